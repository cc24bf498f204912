# Shared helpers for the rtspd firmware tests (a helper module: no test_ functions here).
# Synthetic baseline JPEGs (no image library in MicroPython):
# a valid header (DQT, SOF0, standard DHT, optional DRI, SOS) around a made-up scan.
import struct
from rtspd import jpeg as J

QT0 = bytes(range(1, 65))
QT1 = bytes(range(65, 129))


def seg(marker, body):
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def make(y=0x21, ncomp=3, sof=0xC0, dri=0, scan=b"\x12\x34\x56" * 10, w=1280, h=720,
         dht=None, dqt=None, pad=b"", eoi=True, extra=b""):
    out = b"\xff\xd8" + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, dqt if dqt is not None else b"\x00" + QT0 + b"\x01" + QT1)
    out += extra                    # more segments, e.g. a second DQT
    comps = bytes((1, y, 0)) + (bytes((2, 0x11, 1, 3, 0x11, 1)) if ncomp == 3 else b"")
    out += seg(sof, bytes((8,)) + struct.pack(">HH", h, w) + bytes((ncomp,)) + comps)
    out += seg(0xC4, dht if dht is not None else J._STD_HUFF)
    if dri:
        out += seg(0xDD, struct.pack(">H", dri))
    if ncomp == 3:
        out += seg(0xDA, bytes((3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)))
    else:
        out += seg(0xDA, bytes((1, 1, 0x00, 0, 63, 0)))
    header = len(out)
    out += scan
    if eoi:
        out += b"\xff\xd9"
    return out + pad, header


def scan_bytes(n, seed=1):
    """n scan-like bytes without 0xFF (so no marker appears inside)."""
    b = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b[i] = (x >> 16) % 255
    return bytes(b)


# -- an RtspServer with viewers on stub sockets: the send path without a network (runs on the
# unix port and on the Cortex-M7 tool, which has no sockets) -------------------------------------
class StubSocket:
    """A connected non-blocking socket: write(buf, off, n) takes up to `cap` bytes (0: all);
    keep=True records them (bytes objects: for comparisons, not for allocation counts)."""

    def __init__(self, cap=0, keep=False):
        self.cap = cap
        self.nbytes = 0
        self.calls = 0
        self.got = [] if keep else None

    def write(self, buf, off=0, n=-1):
        if n < 0:
            n = len(buf) - off
        if self.cap and n > self.cap:
            n = self.cap
        self.calls += 1
        self.nbytes += n
        if self.got is not None:
            self.got.append(bytes(buf[off:off + n]))
        return n

    def readinto(self, buf, n=-1):
        return None

    def setblocking(self, flag):
        pass

    def close(self):
        pass


class StubPoller:
    def register(self, *a):
        pass

    def modify(self, *a):
        pass

    def unregister(self, *a):
        pass

    def ipoll(self, *a):
        return ()


URL = "rtsp://10.0.0.1/stream"


def _ask(srv, c, text):
    b = text.encode()
    c.rx[0:len(b)] = b
    c.rxn = len(b)
    c.process(srv)
    c.send(srv._stream, srv._budget)


class Rig:
    """An RtspServer (built after the caller chose rtspd.fast's backend) with `tcp`
    TCP-interleaved and `udp` UDP viewers on stub sockets. frame() sends one JPEG and has
    every viewer write all of it."""

    def __init__(self, data, tcp=1, udp=0, cap=0, keep=False, frame_max=200000, **kw):
        from rtspd.server import RtspServer
        from rtspd.clock import RtpClock
        self.srv = srv = RtspServer(auth="none", frame_max=frame_max, slots=2, max_clients=8,
                                    **kw)     # kw: alloc=, stage= (the lean mode)
        srv._poller = StubPoller()
        srv._rtp = RtpClock(0xF1223344, 0)    # above 2**30: a heap integer on the camera
        srv._stream.seq = 65000                 # not random: runs can be compared byte for byte
        srv._ssrc = 0x9ABCDEF0
        import struct
        struct.pack_into(">I", srv._tq, 8, srv._ssrc)
        srv._bind_udp = self._udp
        self.cap = cap
        self.keep = keep
        self.tcp = []
        self.udp_socks = []
        for i in range(tcp + udp):
            c = srv._conns[i]
            sk = StubSocket(cap, keep)
            c.open(sk, "10.0.0.%d" % (2 + i))
            srv._by_sock[sk] = c
            tr = ("RTP/AVP/TCP;unicast;interleaved=0-1" if i < tcp
                  else "RTP/AVP;unicast;client_port=%d-%d" % (5000 + 2 * i, 5001 + 2 * i))
            _ask(srv, c, "SETUP %s/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: %s\r\n\r\n"
                 % (URL, tr))
            _ask(srv, c, "PLAY %s RTSP/1.0\r\nCSeq: 2\r\nSession: %s\r\n\r\n"
                 % (URL, c.session.id))
            if i < tcp:
                self.tcp.append(c)
        self.udp = [s for s in srv._sessions if s.id is not None and not s.tcp]
        assert srv.playing == tcp + udp
        if keep:                # from here on only media (and RTCP) reaches the sockets
            for c in self.tcp:
                c.sock.got = []
            for sk in self.udp_socks:
                sk.got = []
        self.size = len(data)
        self.buf = bytearray(self.size + 512)      # a camera frame buffer: JPEG + room after
        self.buf[0:self.size] = data
        self.t = 0

    def _udp(self, s, ip, ports):
        s.tcp = False
        s.rtp = StubSocket(0, self.keep)
        s.rtcp = StubSocket()
        s.sport = 6970
        s.cports = ports
        self.udp_socks.append(s.rtp)
        return True

    def frame(self):
        srv = self.srv
        st = srv._stream
        self.t += 33
        assert srv.send_frame(self.buf, self.size, self.t)
        for c in self.tcp:
            n = 0
            while c.session.cur >= 0:       # partial writes: as often as the socket takes data
                c.send(st, srv._budget)
                n += 1
                assert n < 100000
        for s in self.udp:
            while s.cur >= 0:
                s.send_udp(st.slots[s.cur], 16)
                if s.pos >= s.end:
                    st.finish(s)

    def packets(self):
        return self.srv._stream.slots[self.srv._stream.newest].npk
