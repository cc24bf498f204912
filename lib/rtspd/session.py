# An RTSP session: one viewer of the stream, over TCP (interleaved in its RTSP connection)
# or UDP (a pair of sockets of its own, connected to the viewer's ports, so RTP and RTCP leave
# from the advertised server_port pair and each packet goes out with write(buf, off, n)).
import errno
import socket
import time
from rtspd.stream import PKT, STRIDE

READY = 1       # SETUP done
PLAYING = 2
PAUSED = 3

_EAGAIN = (errno.EAGAIN, errno.ENOMEM, getattr(errno, "ENOBUFS", 105))
_UNIT = 1 << 29     # RTCP counts as hi * _UNIT + lo: small ints on the 32-bit camera (no heap)


class Session:
    def __init__(self):
        self.id = None
        self.conn = None
        self.rtp = None
        self.rtcp = None
        self.reset()

    def reset(self):
        self.id = None
        self.conn = None        # the RTSP connection that made it (its end ends the session)
        self.tcp = True
        self.state = 0
        self.viewer = False     # has played: counts for first_play / last_gone
        self.rtp = None
        self.rtcp = None
        self.sport = 0          # UDP server_port (RTP; RTCP is sport + 1)
        self.cports = None
        self.seen = 0           # ticks of the last request or RTCP packet from the viewer
        self.sr_t = 0           # ticks when the next sender report is due
        self.cur = -1           # slot of the frame being sent (-1: none)
        self.pos = 0            # TCP: byte offset in the slot; UDP: packet index
        self.end = 0
        self.gen = -1           # last frame number started
        self.wait_out = False   # TCP: cut for lagging; no new frame until the socket drains
        self.frames = 0
        self.skipped = 0
        self.pkts = 0           # RTCP packet and octet counts (see count())
        self.pkts_hi = 0
        self.octets = 0
        self.octets_hi = 0

    def open_udp(self, bind_ip, sport, peer_ip, cports):
        """Bind the server_port pair and connect it to the viewer; OSError if a port is taken."""
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp = None
        try:
            rtp.bind((bind_ip, sport))
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            rtcp.bind((bind_ip, sport + 1))
            rtp.connect((peer_ip, cports[0]))
            rtcp.connect((peer_ip, cports[1]))
            rtp.setblocking(False)
            rtcp.setblocking(False)
        except OSError:
            rtp.close()
            if rtcp is not None:
                rtcp.close()
            raise
        self.tcp = False
        self.rtp = rtp
        self.rtcp = rtcp
        self.sport = sport
        self.cports = cports

    def close_udp(self):
        for sk in (self.rtp, self.rtcp):
            if sk is not None:
                try:
                    sk.close()
                except OSError:
                    pass
        self.rtp = None
        self.rtcp = None

    def send_udp(self, slot, budget):
        """Send up to `budget` packets of the current frame; returns packets sent (-1 if the
        network is out of buffers, so the caller waits a little)."""
        buf = slot.buf
        base = slot.base + 4    # the RTP packet, without its '$' header
        k = self.pos
        n = self.end
        sent = 0
        while k < n and sent < budget:
            ln = PKT if k < n - 1 else slot.last
            try:
                r = self.rtp.write(buf, base + k * STRIDE, ln)
            except OSError as e:
                if e.errno in _EAGAIN:
                    r = None
                else:           # e.g. ECONNREFUSED: the viewer's port is closed; RTCP
                    r = ln      # silence will end the session, meanwhile keep the pace
            if r is None:
                self.pos = k
                return -1
            k += 1
            sent += 1
        self.pos = k
        return sent

    def count(self, packets, octets):
        """Add a frame to the RTCP counts. They wrap at 2**32; kept in two small ints each,
        as 0xFFFFFFFF-masked sums would be heap integers on every frame."""
        p = self.pkts + packets
        if p >= _UNIT:
            p -= _UNIT
            self.pkts_hi = (self.pkts_hi + 1) & 7
        self.pkts = p
        o = self.octets + octets
        if o >= _UNIT:
            o -= _UNIT
            self.octets_hi = (self.octets_hi + 1) & 7
        self.octets = o

    def counts(self):
        """(packets, octets) mod 2**32, for a sender report."""
        return ((self.pkts_hi << 29) + self.pkts) & 0xFFFFFFFF, \
            ((self.octets_hi << 29) + self.octets) & 0xFFFFFFFF

    def alive(self):
        self.seen = time.ticks_ms()
