"""RTSP, RTP/JPEG (RFC 2435) and RTCP as rtspd speaks them, checked byte by byte with a raw
client on 127.0.0.1: status codes, transports, SDP, packet format, timing, auth, sessions."""
import base64
import socket
import struct
import time

import pytest

from . import rtsp_support as rs


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    d = tmp_path_factory.mktemp("frames")
    return d, rs.make_frames(d, n=4, subsampling=1)


@pytest.fixture(scope="module")
def srv(frames):
    """Digest auth (the default), normal timeouts."""
    s = rs.start_server(frames[0])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def quick(frames):
    """No auth, 2 viewers at most, short timeouts: sessions expire 2.5 s after silence."""
    s = rs.start_server(frames[0], auth="none", max_clients=2, timeout=2, expire_ms=2500,
                        idle_ms=1500)
    yield s
    s.stop()


@pytest.fixture
def client(srv):
    c = rs.RtspClient(srv, user=srv.user, password=srv.password)
    yield c
    c.close()


@pytest.fixture
def qclient(quick):
    c = rs.RtspClient(quick)
    yield c
    c.close()


def raw_request(c, text):
    c.send_raw(text.replace("\n", "\r\n").encode())
    return c.read_response()


# -- requests and status codes ------------------------------------------------------------------
def test_options_star_answers_with_public_methods_and_cseq(qclient):
    r = raw_request(qclient, "OPTIONS * RTSP/1.0\nCSeq: 7\n\n")
    assert r.status == 200 and r["cseq"] == "7"
    assert "GET_PARAMETER" in r["public"] and "SETUP" in r["public"]


def test_unknown_method_gets_501_with_cseq(qclient):
    r = raw_request(qclient, "RECORD %s RTSP/1.0\nCSeq: 3\n\n" % qclient.base)
    assert r.status == 501 and r["cseq"] == "3"


def test_other_paths_get_404(qclient, quick):
    r = qclient.request("DESCRIBE", quick.url(path="/other"))
    assert r.status == 404 and r["cseq"] == str(qclient.cseq)


def test_malformed_request_gets_400_and_the_server_goes_on(quick):
    c = rs.RtspClient(quick)
    r = raw_request(c, "DESCRIBE\nCSeq: 4\n\n")
    assert r.status == 400
    c.close()
    c = rs.RtspClient(quick)
    assert c.request("OPTIONS").status == 200
    c.close()


def test_missing_cseq_gets_400(qclient):
    assert raw_request(qclient, "OPTIONS * RTSP/1.0\nUser-Agent: x\n\n").status == 400


def test_rtsp_2_gets_505(qclient):
    r = raw_request(qclient, "OPTIONS * RTSP/2.0\nCSeq: 1\n\n")
    assert r.status == 505 and r["cseq"] == "1"


def test_describe_returns_sdp_for_jpeg(qclient, quick):
    r = qclient.request("DESCRIBE")
    assert r.status == 200
    assert r["content-type"] == "application/sdp"
    assert r["content-base"] == quick.url() + "/"
    assert int(r["content-length"]) == len(r.body)
    sdp = r.body.decode()
    for line in ("m=video 0 RTP/AVP 26", "a=rtpmap:26 JPEG/90000", "a=control:trackID=0",
                 "a=framerate:30", "a=x-dimensions:1280,720", "c=IN IP4 0.0.0.0"):
        assert line in sdp.split("\r\n"), line


def test_play_without_or_with_unknown_session_gets_454(qclient):
    qclient.request("DESCRIBE")
    assert qclient.request("PLAY").status == 454
    assert qclient.request("PLAY", headers={"Session": "12345678abcdef"}).status == 454
    assert qclient.request("TEARDOWN", headers={"Session": "nope"}).status == 454


def test_multicast_only_gets_461_and_a_list_picks_a_supported_transport(qclient):
    qclient.request("DESCRIBE")
    track = qclient.base + "/trackID=0"
    r = qclient.request("SETUP", track, {"Transport": "RTP/AVP;multicast;port=5000-5001"})
    assert r.status == 461
    r = qclient.request("SETUP", track, {
        "Transport": "RTP/AVP;multicast,RTP/SAVP;unicast;client_port=4000-4001,"
                     "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert r.status == 200
    tr = r["transport"]
    assert "," not in tr and tr.startswith("RTP/AVP/TCP;unicast;interleaved=0-1")
    assert len(r["session"].split(";")[0]) >= 8 and "timeout=2" in r["session"]


def test_udp_setup_answers_client_and_server_ports(qclient):
    rtp, rtcp = rs.udp_pair()
    try:
        r = qclient.setup_udp(rtp)
        assert r.status == 200
        tr = r["transport"]
        port = rtp.getsockname()[1]
        assert "client_port=%d-%d" % (port, port + 1) in tr and "server_port=" in tr
        assert "," not in tr and "source=" not in tr
    finally:
        rtp.close()
        rtcp.close()


def test_full_server_answers_503(quick):
    rs.wait_param(quick, "rtspd.sessions", "0")
    cs = [rs.RtspClient(quick) for _ in range(3)]
    try:
        assert cs[0].setup_tcp().status == 200
        assert cs[1].setup_tcp().status == 200
        assert cs[2].request("DESCRIBE").status == 503
        assert rs.read_to_close(cs[2].sock, 3)[1] == "fin"   # then closed: its PCB is free
        cs[0].request("TEARDOWN")
        cs[2] = rs.RtspClient(quick)
        assert cs[2].setup_tcp().status == 200      # a freed place can be taken again
    finally:
        for c in cs:
            c.close()


def test_pipelined_split_and_interleaved_requests(qclient):
    rr = b"$\x01\x00\x20" + b"\x81\xc9\x00\x07" + bytes(28)     # an RTCP receiver report
    data = ("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"
            "DESCRIBE %s RTSP/1.0\r\nCSeq: 2\r\n\r\n" % qclient.base).encode() + rr + \
           ("SET_PARAMETER %s RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 12\r\n\r\nmode: night\n"
            % qclient.base).encode()
    qclient.send_raw(data[:5])
    time.sleep(0.05)
    for i in range(5, len(data), 7):             # the rest in small pieces
        qclient.send_raw(data[i:i + 7])
    got = [qclient.read_response() for _ in range(3)]
    assert [r["cseq"] for r in got] == ["1", "2", "3"]
    assert [r.status for r in got] == [200, 200, 200]
    assert got[1].body.startswith(b"v=0")


def test_set_parameter_reaches_the_application(qclient, quick):
    n = len(quick.lines)
    body = b"led: off\r\nir: on\r\n"
    r = qclient.request("SET_PARAMETER", body=body, headers={"Content-Type": "text/parameters"})
    assert r.status == 200
    assert quick.wait_for(r"EVENT set_parameter \('led', 'off'\)", 3, n)
    assert quick.wait_for(r"EVENT set_parameter \('ir', 'on'\)", 3, n)


# -- RTP/JPEG over TCP ---------------------------------------------------------------------------
def _tcp_frames(c, count, timeout=10.0):
    asm = rs.FrameAssembler()
    rtcp = []
    deadline = time.monotonic() + timeout
    pkts = list(c.packets)
    c.packets = []
    while len(asm.frames) < count:
        for ch, data in pkts:
            if ch == 0:
                asm.add(rs.RtpPacket(data))
            else:
                rtcp.append(data)
        pkts = c.read_packets(1, max(0.1, deadline - time.monotonic()))
    return asm, rtcp


def test_rfc2435_packets_over_tcp(client, frames):
    assert client.setup_tcp().status == 200
    r = client.play()
    assert r.status == 200
    info = dict(kv.split("=", 1) for kv in r["rtp-info"].split(";"))
    assert info["url"] == client.base + "/trackID=0"
    assert r["range"].startswith("npt=0")
    asm, rtcp = _tcp_frames(client, 4)
    ts0, first = asm.frames[0][0], asm.frames[0][1]
    assert first.seq == int(info["seq"])                  # RTP-Info names the first packet
    assert 0 <= (ts0 - int(info["rtptime"])) % 2 ** 32 < 90000
    scans = {rs.jpeg_scan(j): j for j in frames[1]}
    prev = None
    for ts, first, scan, pkts in asm.frames:
        assert scan in scans
        src = scans[scan]
        q = rs.jpeg_qtables(src)
        assert first.qtables == (0, 0, 128, q[0] + q[1])   # Q=255: tables in every frame
        for k, p in enumerate(pkts):
            assert len(p.raw) <= 1400 and p.pt == 26 and p.ts == ts
            assert (p.type, p.q, p.w8, p.h8) == (0, 255, 160, 90)
            assert p.marker == (k == len(pkts) - 1)
            assert p.ssrc == first.ssrc
            if k:
                assert p.seq == (pkts[k - 1].seq + 1) % 65536
        if prev is not None:
            assert (prev[3][-1].seq + 1) % 65536 == first.seq      # no frame skipped
            assert 0 < (ts - prev[0]) % 2 ** 32 < 90000      # later, by under a second
        prev = (ts, first, scan, pkts)
    # 30 fps in 90 kHz units, on average: one capture late on a busy PC makes the next
    # interval short (1440, i.e. 16 ms, seen once)
    span = (asm.frames[-1][0] - asm.frames[0][0]) % 2 ** 32
    assert 90000 // 60 < span // (len(asm.frames) - 1) < 90000 // 10, span
    assert rtcp, "no RTCP sender report after PLAY"


def test_sender_report_carries_wallclock_and_cname(client):
    client.setup_tcp()
    client.play()
    t_host = time.time()
    asm, rtcp = _tcp_frames(client, 1)
    sr = rtcp[0]
    assert sr[0] >> 6 == 2 and sr[1] == 200
    ssrc, msw, lsw, rtptime, npk, noct = struct.unpack(">IIIIII", sr[4:28])
    ntp = msw - 2208988800 + lsw / 2 ** 32
    assert abs(ntp - t_host) < 2.0
    assert ssrc == asm.frames[0][1].ssrc
    assert sr[29] == 202 and b"rtspd@" in sr[28:]          # SDES with a CNAME


def test_restart_markers_give_type_64_and_a_restart_header(tmp_path):
    jpeg = rs.encode(rs.pattern(1), restart_marker_blocks=80)
    (tmp_path / "a.jpg").write_bytes(jpeg)
    srv = rs.start_server(tmp_path, auth="none")
    try:
        c = rs.RtspClient(srv)
        c.setup_tcp()
        c.play()
        asm, _ = _tcp_frames(c, 2)
        for ts, first, scan, pkts in asm.frames:
            assert scan == rs.jpeg_scan(jpeg)
            for p in pkts:
                assert p.type == 64 and p.dri == 80 and p.restart_flags == b"\xff\xff"
        c.close()
        frames = rs.pyav_frames(srv.url(), "tcp", 3)
        assert rs.psnr(frames[-1], rs.decode_rgb(jpeg)) > 38
    finally:
        srv.stop()


# -- RTP over UDP ---------------------------------------------------------------------------------
def test_udp_rtp_and_rtcp_leave_from_the_advertised_ports(qclient):
    rtp, rtcp = rs.udp_pair()
    try:
        r = qclient.setup_udp(rtp)
        sport = int(r["transport"].split("server_port=")[1].split("-")[0].split(";")[0])
        assert qclient.play().status == 200
        rtp.settimeout(5)
        rtcp.settimeout(5)
        data, addr = rtp.recvfrom(2000)
        assert addr == (rs.HOST, sport)
        assert rs.RtpPacket(data).pt == 26
        data, addr = rtcp.recvfrom(2000)
        assert addr == (rs.HOST, sport + 1) and data[1] == 200
    finally:
        rtp.close()
        rtcp.close()


# -- sessions, keepalive, events -------------------------------------------------------------------
def _udp_session(c):
    rtp, rtcp = rs.udp_pair()
    assert c.setup_udp(rtp).status == 200
    assert c.play().status == 200
    return rtp, rtcp


@pytest.mark.parametrize("keepalive", ["GET_PARAMETER", "OPTIONS *"])
def test_keepalive_keeps_a_session_past_its_timeout(qclient, quick, keepalive):
    rtp, rtcp = _udp_session(qclient)
    try:
        for _ in range(5):                 # 5 s: twice the 2.5 s expiry
            time.sleep(1.0)
            if keepalive == "OPTIONS *":
                r = qclient.request("OPTIONS", "*", headers={"Session": qclient.session})
            else:
                r = qclient.request("GET_PARAMETER")
            assert r.status == 200
        assert qclient.request("GET_PARAMETER").status == 200
        rtp.setblocking(False)
        try:
            while rtp.recv(2000):       # drain what came meanwhile...
                pass
        except BlockingIOError:
            pass
        rtp.settimeout(2)               # ...and see that packets still come
        assert rs.RtpPacket(rtp.recv(2000)).pt == 26
    finally:
        rtp.close()
        rtcp.close()


def test_silence_ends_a_udp_session(qclient, quick):
    n = len(quick.lines)
    rtp, rtcp = _udp_session(qclient)
    try:
        assert quick.wait_for("EVENT first_play", 3, n)
        assert quick.wait_for("EVENT last_gone timeout", 6, n)
        assert qclient.request("GET_PARAMETER").status == 454
    finally:
        rtp.close()
        rtcp.close()


def test_pause_then_silence_ends_a_tcp_session(qclient, quick):
    n = len(quick.lines)
    qclient.setup_tcp()
    qclient.play()
    assert qclient.request("PAUSE").status == 200
    assert quick.wait_for("EVENT last_gone timeout", 6, n)


def test_events_for_teardown_and_abrupt_close(quick):
    for how in ("teardown", "close", "abort"):
        n = len(quick.lines)
        c = rs.RtspClient(quick)
        c.setup_tcp()
        c.play()
        assert quick.wait_for("EVENT first_play", 3, n)
        c.read_packets(5)
        if how == "teardown":
            assert c.request("TEARDOWN").status == 200
        elif how == "close":
            c.close()
        else:
            c.abort()
        assert quick.wait_for("EVENT last_gone", 3, n), how
        c.close()


def test_idle_connection_is_closed(quick):
    s = socket.create_connection((rs.HOST, quick.port), timeout=5)
    try:
        s.sendall(b"OPTIONS * RTSP/1.0\r\n")        # never finished
        t0 = time.monotonic()
        assert s.recv(100) == b""                    # closed by the server
        assert time.monotonic() - t0 < 4
    finally:
        s.close()


# -- authentication ---------------------------------------------------------------------------------
def test_missing_credentials_get_a_digest_challenge(srv):
    c = rs.RtspClient(srv)
    r = c.request("DESCRIBE")
    c.close()
    assert r.status == 401 and r["cseq"] == "1"
    ch = r["www-authenticate"]
    assert ch.startswith("Digest ") and ch.index("realm=") < ch.index("nonce=")
    assert not [v for v in r.get_all("www-authenticate") if "Basic" in v]


@pytest.mark.parametrize("qop", [True, False])
def test_digest_with_and_without_qop(srv, qop):
    c = rs.RtspClient(srv, user=srv.user, password=srv.password, qop=qop)
    assert c.request("DESCRIBE").status == 200
    assert c.setup_tcp().status == 200
    c.close()


def test_wrong_password_gets_401_and_an_event(srv):
    n = len(srv.lines)
    c = rs.RtspClient(srv, user=srv.user, password="guess")
    assert c.request("DESCRIBE").status == 401
    c.close()
    assert srv.wait_for(r"EVENT auth_failed 127\.0\.0\.1", 3, n)


def test_nonce_from_another_connection_is_refused(srv):
    a = rs.RtspClient(srv, user=srv.user, password=srv.password)
    assert a.request("DESCRIBE").status == 200
    b = rs.RtspClient(srv)
    ch = a.challenge                           # replay the first connection's nonce
    hdr = rs.digest_header(srv.user, srv.password, ch["realm"], ch["nonce"], "DESCRIBE", b.base)
    r = b.request("DESCRIBE", headers={"Authorization": hdr})
    assert r.status == 401 and "stale=TRUE" in r["www-authenticate"]
    assert rs.parse_challenge(r["www-authenticate"])["nonce"] != ch["nonce"]
    a.close()
    b.close()


def test_basic_refused_unless_enabled(srv, frames):
    hdr = {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (srv.user, srv.password)).encode()).decode()}
    c = rs.RtspClient(srv)
    assert c.request("DESCRIBE", headers=hdr).status == 401
    c.close()
    basic = rs.start_server(frames[0], auth="basic")
    try:
        c = rs.RtspClient(basic)
        r = c.request("DESCRIBE")
        assert r.status == 401 and any(v.startswith("Basic realm=")
                                       for v in r.get_all("www-authenticate"))
        assert c.request("DESCRIBE", headers=hdr).status == 200
        bad = {"Authorization": "Basic " + base64.b64encode(b"admin:nope").decode()}
        c2 = rs.RtspClient(basic)
        assert c2.request("DESCRIBE", headers=bad).status == 401
        c.close()
        c2.close()
    finally:
        basic.stop()


def test_password_never_in_the_output(srv):
    c = rs.RtspClient(srv, user=srv.user, password=srv.password)
    c.request("DESCRIBE")
    c.close()
    assert srv.password not in srv.output()


# -- JPEGs RFC 2435 cannot carry ------------------------------------------------------------------
def test_unsupported_jpegs_are_refused_clearly_and_good_ones_still_flow(tmp_path):
    img = rs.pattern(2)
    (tmp_path / "a_good.jpg").write_bytes(rs.encode(img))
    (tmp_path / "b_444.jpg").write_bytes(rs.encode(img, subsampling=0))
    (tmp_path / "c_prog.jpg").write_bytes(rs.encode(img, progressive=True))
    (tmp_path / "d_gray.jpg").write_bytes(rs.encode(img.convert("L")))
    (tmp_path / "e_opt.jpg").write_bytes(rs.encode(img, optimize=True))
    srv = rs.start_server(tmp_path, auth="none")
    try:
        c = rs.RtspClient(srv)
        c.setup_tcp()
        c.play()
        asm, _ = _tcp_frames(c, 3)
        assert all(f[2] == rs.jpeg_scan((tmp_path / "a_good.jpg").read_bytes()) for f in asm.frames)
        for name, words in (("b_444", "4:4:4"), ("c_prog", "progressive"), ("d_gray", "grayscale"),
                            ("e_opt", "Huffman")):
            line = srv.wait_for("REFUSED .*%s" % name, 5)
            assert line and words in line, line
        c.close()
    finally:
        srv.stop()
