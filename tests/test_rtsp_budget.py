"""The app inside the camera's network budget (issue 10, items 2 and 7), on the emulator with
its lwIP model on (tools/sim/device/_lwip.py): 600 kB/s up, 8000 bytes of packet memory shared
by every socket, 5 TCP PCBs, 3 UDP PCBs for the app. A write that finds no packet memory
blocks the whole loop in modlwip's 50 ms retries; --net-trace prints each such wait."""
import re
import socket
import struct
import time

import pytest

from . import appkit
from . import rtsp_support as rs


def _changes(**rtsp):
    r = {"auth": "none"}
    r.update(rtsp)
    return {"rtsp": r, "http": {"enabled": False}}


def _waits(board, start=0):
    """The model's reports of writes that waited for packet memory (the loop was blocked),
    each with who held that memory."""
    return [ln for ln in board.console[start:] if "lwip: write" in ln]


def _pacing_waits(board, start=0):
    """_waits() where every viewer keeps reading: leaves out the waits during which the PC's
    own loopback sockets would not take what the model handed them ("PC refused N ms ago",
    N < 100, in the ERR_MEM report). The test's viewers read into 1 MB buffers, so that is
    the busy test machine (loopback ACKs held back by other processes), not a viewer that
    stopped and not the app's pacing; it happened in 1 of 48 runs with 8 CPU hogs."""
    out, host = [], False
    for ln in _waits(board, start):
        if "ERR_MEM;" in ln:
            host = any(int(ms) < 100 for ms in re.findall(r"PC refused (\d+) ms ago", ln))
        if not host:
            out.append(ln)
        if "waited" in ln or "ENOMEM" in ln:
            host = False
    return out


def _play(url, port, n, transport="tcp"):
    return rs.play(rs.Target(url, port), n, transport)


def _measure(tmp_path, n, seconds=4.0):
    with appkit.app(tmp_path, _changes(), net_model=True, net_trace=True) as (b, url):
        vs = _play(url, b.opt.rtsp_port, n)
        try:
            time.sleep(1.5)
            c0 = len(b.console)
            t0 = time.monotonic()
            time.sleep(seconds)
            t1 = time.monotonic()
            return ([v.fps(t0, t1) for v in vs], [v.longest_gap(t0, t1) for v in vs],
                    _pacing_waits(b, c0), [v.error for v in vs])
        finally:
            for v in vs:
                v.close()


def test_two_viewers_share_the_link_without_blocking_the_loop(tmp_path):
    fps, gaps, waits, errors = _measure(tmp_path, 2)
    assert errors == [None, None]
    assert not waits, "the loop blocked in lwIP's retries: %s" % waits[:5]
    assert min(fps) >= 3.0, "fps per viewer %r (600 kB/s, about 60 KB frames)" % fps
    assert max(fps) <= 1.6 * min(fps), "unfair share: %r" % fps



def test_an_rtsp_and_an_mjpeg_viewer_share_the_link(tmp_path):
    from . import httpkit
    ch = _changes()
    ch["http"] = {"enabled": True}
    with appkit.app(tmp_path, ch, net_model=True, net_trace=True) as (b, url):
        b.wait_console("Web page:", timeout=10)
        v = _play(url, b.opt.rtsp_port, 1)[0]
        m = httpkit.MjpegViewer(b.opt.http_port)
        try:
            time.sleep(1.5)
            c0 = len(b.console)
            t0 = time.monotonic()
            time.sleep(4.0)
            t1 = time.monotonic()
            fps_m = sum(1 for t in m.times if t0 <= t < t1) / (t1 - t0)
            fps_r = v.fps(t0, t1)
            assert v.error is None and m.error is None, (v.error, m.error)
            waits = _pacing_waits(b, c0)
            assert not waits, "the loop blocked in lwIP's retries: %s" % waits[:5]
            assert min(fps_r, fps_m) >= 3.0, "RTSP %.1f fps, MJPEG %.1f fps" % (fps_r, fps_m)
        finally:
            v.close()
            m.close()


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    return d, rs.make_frames(d, n=4, quality=60, noise=3)      # about 60 KB each


def test_two_viewers_that_stop_reading_do_not_freeze_a_third(frames):
    # rtspd alone on the loopback (no radio: tools/rtsp_serve.py, unpaced): two viewers stop
    # reading at once; before, both frame slots stayed theirs until a frame was lag_ms (1 s)
    # old, and the healthy viewer got nothing meanwhile, 0.75-0.95 s each time
    srv = rs.start_server(frames[0], auth="none", max_clients=4, stall_ms=8000)
    url = srv.url()
    healthy = _play(url, srv.port, 1)[0]
    stuck = []
    try:
        for _ in range(2):
            v = rs.Viewer(srv, rcvbuf=8192)
            assert v.setup() == 200
            v.start()
            stuck.append(v)
        time.sleep(1.0)
        t0 = time.monotonic()
        for v in stuck:                 # both at the same moment
            v.stop_reading.set()
        time.sleep(3.0)
        t1 = time.monotonic()
        gap = healthy.longest_gap(t0, t1)
        assert healthy.error is None, healthy.error
        assert gap < 0.15, "the healthy viewer waited %.2f s (%.1f fps) %r" % (
            gap, healthy.fps(t0, t1), [round(t - t0, 2) for t in healthy.times if t > t0])
        assert all(v.fps(t0 + 0.5, t1) == 0 for v in stuck)      # they did stop
    finally:
        for v in [healthy] + stuck:
            v.close()
        srv.stop()


def test_udp_without_a_socket_left_gets_461_and_the_player_falls_back_to_tcp(tmp_path):
    # the app has 3 UDP PCBs (DHCP and mDNS hold 2 of 5), a UDP session takes 2
    with appkit.app(tmp_path, _changes(), net_model=True) as (b, url):
        port = b.opt.rtsp_port
        first = _play(url, port, 1, "udp")[0]
        second = rs.Viewer(rs.Target(url, port), "udp")
        try:
            assert second.setup() == 461, second.setup_status
            r = second.c.request("SETUP", url + "/trackID=0",
                                 {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
            assert r.status == 200, r               # the same connection, over TCP
            assert second.c.play().status == 200
            for sk in second.udp:
                sk.close()
            second.udp = None               # it reads the interleaved stream now
            second.start()
            t0 = time.monotonic()
            deadline = t0 + 5
            while time.monotonic() < deadline and (len(second.times) < 3 or len(first.times) < 3):
                time.sleep(0.1)
            assert len(second.times) >= 3 and len(first.times) >= 3, (first.times, second.times)
            assert first.error is None and second.error is None
        finally:
            first.close()
            second.close()


def test_max_clients_is_clamped_to_the_camera_s_tcp_connections(tmp_path):
    with appkit.app(tmp_path, _changes(max_clients=8), net_model=True) as (b, url):
        line = b.wait_console("max_clients 8", timeout=5)
    assert "4 viewers" in line


@pytest.mark.long
def test_a_udp_viewer_whose_receiver_reports_stop_is_ended_after_20_s(frames):
    srv = rs.start_server(frames[0], auth="none", max_clients=4)
    v = rs.Viewer(srv, "udp")
    try:
        assert v.setup() == 200
        sport = int(v.transport_reply.split("server_port=")[1].split("-")[0])
        rr = struct.pack(">BBHI", 0x80, 201, 1, 0x1234)        # an empty receiver report
        v.udp[1].sendto(rr, (rs.HOST, sport + 1))
        t0 = time.monotonic()
        assert rs.wait_param(srv, "rtspd.sessions", "1", timeout=2) == "1"
        # its RTSP connection stays open, nothing more comes: ended after 20 s, not 65
        assert rs.wait_param(srv, "rtspd.sessions", "0", timeout=26) == "0"
        took = time.monotonic() - t0
        assert 19 <= took <= 25, took
    finally:
        v.close()
        srv.stop()


def test_an_oversized_request_gets_its_400_then_a_clean_close(frames):
    srv = rs.start_server(frames[0], auth="none", max_clients=4)
    s = socket.create_connection((rs.HOST, srv.port), timeout=5)
    try:
        s.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + b"a" * 6000 + b"\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(65536)       # a reset raises ConnectionResetError here
            if not chunk:
                break
            got += chunk
        assert got.startswith(b"RTSP/1.0 400"), got[:80]
    finally:
        s.close()
        srv.stop()


def _captures(board, t0, t1):
    """Wall-clock times of the camera's captures between t0 and t1 (time.time())."""
    return [r.time for r in board.camera.frames_of() if r.kind != "to_jpeg" and t0 <= r.time < t1]


def _healthy_and_two_to_stop(url, port):
    """A viewer that keeps reading and two with small receive buffers (their TCP window
    closes soon after they stop reading), all playing for 2 s."""
    healthy = _play(url, port, 1)[0]
    stuck = []
    for _ in range(2):
        v = rs.Viewer(rs.Target(url, port), rcvbuf=4096)
        assert v.setup() == 200
        v.start()
        stuck.append(v)
    time.sleep(2.0)
    return healthy, stuck


def _loop_max(url):
    from .test_app_adaptive import get_param
    return get_param(url, "loop_max_ms")


@pytest.mark.long
def test_two_viewers_that_stop_reading_jam_the_link_once_and_the_camera_recovers(tmp_path):
    # What the app can do once two stopped viewers filled lwIP's memory (the test below: it
    # cannot see it coming): one write sits in modlwip's 10 s retry, then the camera ends the
    # TCP viewers, hands lwIP nothing until modlwip's close timeout has freed their memory,
    # and streams again. Before: write after write jammed (20-26 s passes in make bench, near
    # the 30 s watchdog), the healthy viewer's session was ended by ENOMEM, the others stayed.
    with appkit.app(tmp_path, _changes(), net_model=True) as (b, url):
        port = b.opt.rtsp_port
        boots = b.boots
        healthy, stuck = _healthy_and_two_to_stop(url, port)
        try:
            _loop_max(url)                  # from here on
            c0 = len(b.console)
            for v in stuck:
                v.stop_reading.set()
            line = b.wait_console("streaming resumes in", timeout=20, start=c0)
            t_jam = time.time()
            for v in [healthy] + stuck:
                v.close()
            # streaming again once the ended connections' memory is back (modlwip's 10 s;
            # requests wait meanwhile: a response needs packet memory too)
            b.wait_console("streaming resumed after the jam", timeout=15, start=c0)
            t0 = time.monotonic()
            again = _play(url, port, 1)[0]
            try:
                deadline = time.monotonic() + 20
                while again.frames_between(t0, time.monotonic()) < 10:
                    assert time.monotonic() < deadline, "no stream 20 s after the jam"
                    assert again.error is None, again.error
                    time.sleep(0.1)
                back = time.monotonic() - t0       # after the hold
                loop = _loop_max(url)
                caps = _captures(b, t_jam, time.time())
            finally:
                again.close()
        finally:
            for v in [healthy] + stuck:
                v.close()
        print("jam: %s; 10 frames %.1f s after the hold; longest loop pass %d ms; %d captures "
              "since" % (line.strip()[-120:], back, loop, len(caps)))
        # one write in modlwip's 200 x 50 ms retry (10 s; 11.5 s seen under the full parallel
        # suite), not one after another (20-26 s before)
        assert loop < 15000, "the loop sat in lwIP's retries %d ms" % loop
        assert b.boots == boots, "the camera rebooted"
        assert back < 5, back
        assert len(caps) >= 10


@pytest.mark.xfail(strict=True, reason="lwIP shows the app no stopped viewer before it holds "
                   "7040 of the 8000 bytes (docs/ARCHITECTURE.md, Viewers that stop reading)")
def test_two_viewers_that_stop_reading_with_the_network_model(tmp_path):
    # the camera's lwIP (tools/sim/device/_lwip.py): what a viewer that stopped reading was
    # given stays in lwIP's 8000 bytes of packet memory, and no socket call shows how much.
    # Measured (3 tries): the third viewer gets nothing for the whole 3 s, no capture, the
    # loop inside modlwip's 10 s of retries after two 50 ms ones.
    with appkit.app(tmp_path, _changes(), net_model=True, net_trace=True) as (b, url):
        port = b.opt.rtsp_port
        healthy, stuck = _healthy_and_two_to_stop(url, port)
        try:
            c0 = len(b.console)
            t0 = time.monotonic()
            w0 = time.time()
            for v in stuck:                 # both at the same moment
                v.stop_reading.set()
            time.sleep(3.0)
            t1 = time.monotonic()
            w1 = time.time()
            gap = healthy.longest_gap(t0, t1)
            caps = [w0] + _captures(b, w0, w1) + [w1]
            cgap = max(y - x for x, y in zip(caps, caps[1:]))
            print("healthy: longest gap %.3f s, %.1f fps; captures %d, longest capture gap "
                  "%.3f s; waits %d" % (gap, healthy.fps(t0, t1), len(caps) - 2, cgap,
                                         len(_waits(b, c0))))
            assert healthy.error is None, healthy.error
            assert not _waits(b, c0), "the loop blocked in lwIP's retries: %s" % _waits(b, c0)[:5]
            assert gap < 0.15, "the healthy viewer waited %.2f s" % gap
            assert cgap < 0.15, "capture stopped for %.2f s" % cgap
        finally:
            for v in [healthy] + stuck:
                v.close()
