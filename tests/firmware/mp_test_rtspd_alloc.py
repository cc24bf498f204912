# The streaming path allocates nothing per packet: a real server with loopback viewers (one
# TCP-interleaved, one UDP) in this MicroPython process, frames of a few packets and of ~110
# packets; the heap bytes allocated per frame must not grow with the number of packets.
import sys
import gc
import os


class _HostRtc:                     # no emulated board here: the RTC is the host clock
    @staticmethod
    def now():
        import utime
        return int(utime.time())


sys.modules["_rtc"] = _HostRtc
import time
import socket
from rtspd import RtspServer
from rtspd import fast
import rtspd_kit as T


def _start():
    for _ in range(20):
        port = 20000 + (os.urandom(2)[0] << 7) % 30000
        srv = RtspServer(port=port, auth="none", rtp_port=port + 2, max_clients=4,
                         frame_max=200000)
        try:
            srv.start("127.0.0.1")
            return srv, port
        except OSError:
            continue
    raise OSError("no free port")


def _ask(srv, cli, text):
    cli.write(text.encode())
    got = b""
    for _ in range(400):
        srv.poll(2)
        try:
            d = cli.recv(4096)
        except OSError:
            d = None
        if d:
            got += d
            if b"\r\n\r\n" in got:
                return got.split(b"\r\n\r\n")[0].decode()  # RTCP may follow
    raise AssertionError("no answer to " + text.split(" ")[0])


def _viewer(srv, port, udp_port=0):
    cli = socket.socket()
    cli.connect(("127.0.0.1", port))
    cli.setblocking(False)
    url = "rtsp://127.0.0.1:%d/stream" % port
    if udp_port:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", udp_port))
        u.setblocking(False)
        tr = "RTP/AVP;unicast;client_port=%d-%d" % (udp_port, udp_port + 1)
    else:
        u = None
        tr = "RTP/AVP/TCP;unicast;interleaved=0-1"
    r = _ask(srv, cli, "SETUP %s/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: %s\r\n\r\n" % (url, tr))
    sid = r.split("Session: ")[1].split(";")[0].split("\r")[0]
    assert "200 OK" in _ask(srv, cli, "PLAY %s RTSP/1.0\r\nCSeq: 2\r\nSession: %s\r\n\r\n" % (url, sid))
    return cli, u


def _run(srv, viewers, data, frames, sink):
    for _ in range(frames):
        n = 0
        while not srv.wants_frame():
            srv.poll(0)
            for cli, u in viewers:
                cli.readinto(sink)
                if u is not None:
                    while u.readinto(sink):
                        pass
            n += 1
            assert n < 200000, "viewers stopped taking frames"
        assert srv.send_frame(data, len(data), time.ticks_ms())


def _alloc_per_frame(srv, viewers, data, sink, frames=30):
    _run(srv, viewers, data, 5, sink)          # warm up
    gc.collect()
    gc.disable()
    try:
        m0 = gc.mem_alloc()
        _run(srv, viewers, data, frames, sink)
        return (gc.mem_alloc() - m0) / frames
    finally:
        gc.enable()


def _no_heap_per_packet(native):
    fast.use(native)
    srv, port = _start()
    try:
        viewers = [_viewer(srv, port), _viewer(srv, port, port + 40)]
        sink = bytearray(65536)
        small, _ = T.make(scan=T.scan_bytes(3000))
        big, _ = T.make(scan=T.scan_bytes(150000))
        a_small = _alloc_per_frame(srv, viewers, small, sink)
        a_big = _alloc_per_frame(srv, viewers, big, sink)
        print("%s path, alloc per frame: 3 packets %.0f B, 110 packets %.0f B" % (
            "native" if native else "python", a_small, a_big))
        assert a_big < 1024, a_big
        # 107 more packets per frame and per viewer, and no more than a few bytes more
        assert a_big - a_small < 100, (a_small, a_big)
        st = srv.stats()
        assert st["playing"] == 2 and st["sent"] >= 70 and st["refused"] == 0
    finally:
        srv.stop()
        fast.use(True)


def test_no_heap_allocation_per_packet():
    _no_heap_per_packet(True)


def test_no_heap_allocation_per_packet_on_the_plain_python_path():
    _no_heap_per_packet(False)
