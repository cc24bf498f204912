# rtspd request parsing, transports, Digest/Basic, RTCP packets and the RTP clock, in MicroPython.
import struct
import time
from rtspd import request as R
from rtspd import handlers as H
from rtspd.auth import Auth, parse_params
from rtspd.clock import RtpClock
from rtspd import rtcp


def bad(data, code):
    try:
        R.parse_head(data)
    except R.BadRequest as e:
        assert e.code == code, (e.code, code)
        return e
    raise AssertionError("accepted %r" % data)


def test_parse_head_headers_are_case_insensitive():
    r = R.parse_head(b"SETUP rtsp://h/s/trackID=0 RTSP/1.0\r\ncseq: 5\r\nTRANSPORT: RTP/AVP/TCP\r\n"
                     b"X-Long: a\r\n  b")
    assert (r.method, r.uri, r.cseq) == ("SETUP", "rtsp://h/s/trackID=0", "5")
    assert r.get("transport") == "RTP/AVP/TCP" and r.get("x-long") == "a b"


def test_parse_head_refusals():
    bad(b"OPTIONS * RTSP/1.0\r\nUser-Agent: x", 400)              # no CSeq
    assert bad(b"OPTIONS * RTSP/2.0\r\nCSeq: 3", 505).cseq == "3"
    assert bad(b"GARBAGE\r\nCSeq: 4", 400).close
    bad(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + b"A: b\r\n" * 40, 400)
    bad(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + b"y" * 2000, 400)
    bad(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here", 400)
    bad(b"\xff\xfe\xfd", 400)


def test_content_length_bounds():
    r = R.parse_head(b"SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10")
    assert R.content_length(r) == 10
    for v in (b"99999999", b"-1", b"x"):
        r = R.parse_head(b"SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: " + v)
        try:
            R.content_length(r)
            raise AssertionError(v)
        except R.BadRequest as e:
            assert e.code in (400, 413) and e.close


def test_response_echoes_cseq_and_length():
    out = R.response(200, "9", ["Public: X"], b"abc")
    assert out.startswith(b"RTSP/1.0 200 OK\r\nCSeq: 9\r\n")
    assert b"Content-Length: 3\r\n\r\nabc" in out


def test_uri_path():
    assert R.uri_path("rtsp://1.2.3.4:554/stream/trackID=0?x=1") == "/stream/trackID=0"
    assert R.uri_path("rtsp://host") == "/"
    assert R.uri_path("/stream") == "/stream"


def test_transport_lists():
    assert H.parse_transport("RTP/AVP;unicast;client_port=5000-5001") == ("udp", (5000, 5001))
    assert H.parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1") == ("tcp", (0, 1))
    assert H.parse_transport("RTP/AVP;multicast;client_port=5000-5001") is None
    assert H.parse_transport("RTP/AVP;unicast") is None                  # no client port
    assert H.parse_transport("RTP/AVP;unicast;client_port=70000-70001") is None
    assert H.parse_transport("RTP/AVP;unicast;client_port=5000;mode=record") is None
    assert H.parse_transport(
        "RTP/SAVP;unicast;client_port=1-2,RTP/AVP;multicast,RTP/AVP/UDP;unicast;client_port=7000"
    ) == ("udp", (7000, 7001))
    assert H.parse_transport("") is None


class _Conn:
    nonce = None
    nonce_t = 0


def test_digest_rfc2617_example_vector():
    # RFC 2617 section 3.5 (method GET), the only public Digest test vector
    a = Auth("digest", "Mufasa", "Circle Of Life", "testrealm@host.com")
    c = _Conn()
    c.nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    c.nonce_t = time.ticks_ms()
    hdr = ('Digest username="Mufasa", realm="testrealm@host.com", '
           'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
           'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
           'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    assert a.check(c, "GET", hdr) == "ok"
    assert a.check(c, "GET", hdr.replace("6629", "7629")) == "bad"
    assert a.check(c, "POST", hdr) == "bad"


def test_digest_nonce_must_be_this_connections_and_fresh():
    a = Auth("digest", "u", "p", "r", nonce_ms=50)
    c = _Conn()
    lines = a.challenge(c)
    assert lines[0].index("realm=") < lines[0].index("nonce=") and c.nonce
    hdr = 'Digest username="u", realm="r", nonce="%s", uri="x", response="0"' % "other"
    assert a.check(c, "DESCRIBE", hdr) == "stale"
    assert a.check(c, "DESCRIBE", None) == "missing"
    assert a.check(c, "DESCRIBE", "Basic dTpw") == "bad"           # Basic not enabled


def test_basic_only_when_enabled():
    a = Auth("basic", "u", "p", "r")
    c = _Conn()
    assert any(l.startswith("WWW-Authenticate: Basic") for l in a.challenge(c))
    assert a.check(c, "DESCRIBE", "Basic dTpw") == "ok"              # u:p
    assert a.check(c, "DESCRIBE", "Basic dTp4") == "bad"             # u:x
    assert a.check(c, "DESCRIBE", "Basic !!!") == "bad"


def test_auth_needs_a_password_unless_none():
    for pw in (None, ""):
        try:
            Auth("digest", "admin", pw, "r")
            raise AssertionError("accepted an empty password")
        except ValueError:
            pass
    assert Auth("none", "", None, "r").check(_Conn(), "PLAY", None) == "ok"


def test_parse_params_quoted_commas():
    p = parse_params('username="a,b", realm="x y", nc=00000001, qop=auth')
    assert p == {"username": "a,b", "realm": "x y", "nc": "00000001", "qop": "auth"}


def test_sender_report_layout():
    buf = bytearray(128)
    n = rtcp.sender_report(buf, 0x11223344, (3900000000, 2 ** 31), 123456, 10, 5000, b"rtspd@cam")
    sr = bytes(buf[4:4 + n])
    assert n % 4 == 0 and sr[0] == 0x80 and sr[1] == 200 and struct.unpack(">H", sr[2:4])[0] == 6
    assert struct.unpack(">IIIIII", sr[4:28]) == (0x11223344, 3900000000, 2 ** 31, 123456, 10, 5000)
    assert sr[28] == 0x81 and sr[29] == 202
    words = struct.unpack(">H", sr[30:32])[0]
    assert 28 + 4 + words * 4 == n
    assert sr[36] == 1 and sr[37] == 9 and sr[38:47] == b"rtspd@cam" and sr[47] == 0
    assert not rtcp.is_bye(sr, n)
    assert rtcp.is_bye(sr + b"\x81\xcb\x00\x01\x11\x22\x33\x44", n + 8)


def test_rtp_clock_is_continuous_across_tick_wraparound():
    period = time.ticks_add(0, -1) + 1       # ticks_ms wraps at this value
    start = time.ticks_add(0, -100)           # 100 ms before the wrap
    c = RtpClock(2 ** 32 - 1000, start)
    ts = [c.frame(time.ticks_add(start, k * 33)) for k in range(1, 8)]
    for a, b in zip([2 ** 32 - 1000] + ts, ts):
        assert (b - a) & 0xFFFFFFFF == 90 * 33
    assert c.frame(time.ticks_add(start, 7 * 33)) == (ts[-1] + 90) & 0xFFFFFFFF   # never equal
    assert c.at(time.ticks_add(start, 7 * 33 + 1 + 10)) == (ts[-1] + 90 + 900) & 0xFFFFFFFF
    assert period > 0


def test_wall_clock_follows_the_rtc():
    from rtspd.clock import WallClock
    orig = time.time
    try:
        time.time = lambda: 1700000000
        w = WallClock()
        w.tick()
        sec, frac = w.ntp()         # (the fraction: mp_test_clock.py)
        assert sec == 1700000000 + 2208988800
        time.time = lambda: 1700000100             # the RTC was set (NTP sync): follow it
        w.tick()
        assert w.ntp()[0] == 1700000100 + 2208988800
    finally:
        time.time = orig


def test_python_md5_fallback_gives_the_known_digests():
    import binascii
    from rtspd._md5 import md5
    # digests from CPython's hashlib (the first two are RFC 1321's), not from this interpreter:
    # the Cortex-M7 tool's firmware, like some camera firmware, has no hashlib.md5
    for data, digest in ((b"", "d41d8cd98f00b204e9800998ecf8427e"),
                         (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
                         (b"a" * 55, "ef1772b6dff9a122358552954ad0df65"),
                         (b"a" * 56, "3b0c8ac703f828b04c6c197006d17218"),
                         (b"a" * 64, "014842d480b571495a4a0363793f7367"),
                         (b"Mufasa:testrealm@host.com:x" * 9, "ea3a374fb5898fd4fd8e3114eace7d98")):
        assert binascii.hexlify(md5(data)).decode() == digest, data
