# webd requests in MicroPython: parsing and its bounds, percent-decoding, still names (no path
# leaves the stills folder, encoded or not), Range, content negotiation.
from webd import request as R
from webd import stills as S


def bad(data, code):
    try:
        R.parse_head(data)
    except R.HttpError as e:
        assert e.code == code, (e.code, code, data[:60])
        return
    raise AssertionError("accepted %r" % data[:80])


def test_parse_keeps_only_the_headers_it_uses():
    r = R.parse_head(b"GET /stills/?page=2&format=json HTTP/1.1\r\nHost: cam\r\n"
                     b"Accept-Encoding: gzip, br\r\nRANGE: bytes=0-9\r\nX-Junk: 1\r\n\r\n")
    assert (r.method, r.path, r.target) == ("GET", "/stills/", "/stills/?page=2&format=json")
    assert r.query == {"page": "2", "format": "json"}
    assert r.get("range") == "bytes=0-9" and r.gzip_ok() and r.wants_json()
    assert "x-junk" not in r.headers and "host" not in r.headers
    r = R.parse_head(b"GET http://cam:80/status.json HTTP/1.0\r\nAccept: application/json\r\n")
    assert r.path == "/status.json" and r.wants_json() and not r.gzip_ok()


def test_bounds_and_refusals():
    bad(b"GET /" + b"a" * 1100 + b" HTTP/1.1\r\n", 414)
    bad(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 25, 431)
    bad(b"POST /still HTTP/1.1\r\nContent-Length: 257\r\n", 413)
    bad(b"POST /still HTTP/1.1\r\nContent-Length: 99999999999\r\n", 400)
    bad(b"POST /still HTTP/1.1\r\nContent-Length: -1\r\n", 400)
    bad(b"POST /still HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n", 400)
    bad(b"POST /still HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 400)
    bad(b"GET / HTTP/2.0\r\n", 400)
    bad(b"GET / RTSP/1.0\r\n", 400)
    bad(b"GET /\r\n", 400)
    bad(b"GET  / HTTP/1.1\r\n", 400)
    bad(b"GET stills HTTP/1.1\r\n", 400)
    bad(b"PUT / HTTP/1.1\r\n", 405)
    bad(b"GET / HTTP/1.1\r\nX-A: b\r\n c\r\n", 400)           # obsolete line folding
    bad(b"GET / HTTP/1.1\r\nContent-Length : 5\r\n", 400)     # space before the colon
    bad(b"GET / HTTP/1.1\r\nno colon\r\n", 400)
    bad(b"GET /\xff\xfe HTTP/1.1\r\n", 400)
    bad(b"GET /%zz HTTP/1.1\r\n", 400)
    bad(b"GET /a%00b HTTP/1.1\r\n", 400)
    bad(b"GET /a%2 HTTP/1.1\r\n", 400)
    bad(b"GET /%c3%28 HTTP/1.1\r\n", 400)                       # not UTF-8


def test_head_size_error_tells_line_from_headers():
    assert R.head_size_error(b"GET /" + b"a" * 2000) == 414
    assert R.head_size_error(b"GET / HTTP/1.1\r\nX: " + b"a" * 2000) == 431


def test_percent_decoding():
    assert R.unquote("/stills/%2e%2e/config.json") == "/stills/../config.json"
    assert R.unquote("/caf%C3%A9") == "/caf\u00e9"
    assert R.unquote("a+b") == "a+b" and R.unquote("a+b", True) == "a b"
    assert R.split_target("/x?a=1&b=%41&c")[1] == {"a": "1", "b": "A", "c": ""}
    q = R.split_target("/x?" + "&".join("k%d=1" % i for i in range(50)))[1]
    assert len(q) == R.MAX_QUERY


def test_still_names_cannot_leave_the_folder():
    ok = ("2026-11-23/20261123-154501.jpg", "2026-11-23/20261123-154501_01.jpg",
          "unsynced/20130101-000004.jpg", "unsynced/up-0000012345.jpg")
    for rel in ok:
        assert S.valid(rel), rel
    for rel in ("../config.json", "2026-11-23/../../config.json", "..\\config.json",
                "2026-11-23\\..\\x.jpg", "/etc/x.jpg", "2026-11-23//x.jpg",
                "2026-11-23/sub/x.jpg", "2026-11-23/x.jpg/..", "2026-11-23/.jpg",
                "2026-11-23/..jpg", "2026-11-23/x.JPG", "2026-1-23/x.jpg", "x/y.jpg",
                "2026-11-23/x.jpg\x00", "2026-11-23/%2e%2e.jpg", "unsynced/a b.jpg",
                "2026-11-23/caf\u00e9.jpg", "", "unsynced", "unsynced/",
                "2026-11-23/" + "1" * 40 + ".jpg", "../stills/2026-11-23/x.jpg"):
        assert not S.valid(rel), rel
    # what a request names, decoded first: every encoded form lands on an invalid name
    for target in ("/stills/%2e%2e/config.json", "/stills/..%2fconfig.json",
                   "/stills/..%5cconfig.json", "/stills/%2e%2e%2f%2e%2e%2fmain.py",
                   "/stills/2026-11-23%2f..%2f..%2fconfig.json", "/stills/%252e%252e/x.jpg"):
        path = R.split_target(target)[0]
        assert path.startswith("/stills/") and not S.valid(path[8:]), target


def test_iso_time_from_names():
    assert S.iso_time("2026-11-23", "20261123-154501.jpg") == "2026-11-23T15:45:01Z"
    assert S.iso_time("2026-11-23", "20261123-154501_02.jpg") == "2026-11-23T15:45:01Z"
    assert S.iso_time("unsynced", "20130101-000004.jpg") is None
    assert S.iso_time("2026-11-23", "up-0000012345.jpg") is None


def test_range():
    assert R.parse_range("", 100) is None
    assert R.parse_range("bytes=0-9", 100) == (0, 9)
    assert R.parse_range("bytes=90-", 100) == (90, 99)
    assert R.parse_range("bytes=90-500", 100) == (90, 99)
    assert R.parse_range("bytes=-10", 100) == (90, 99)
    assert R.parse_range("bytes=-1000", 100) == (0, 99)
    assert R.parse_range("bytes=0-0,5-9", 100) is None        # several: the whole file
    assert R.parse_range("items=0-9", 100) is None
    assert R.parse_range("bytes=9-0", 100) is None
    assert R.parse_range("bytes=a-b", 100) is None
    assert R.parse_range("bytes=-", 100) is None
    assert R.parse_range("bytes=" + "9" * 20 + "-", 100) is None
    for v in ("bytes=100-", "bytes=100-200", "bytes=-0"):
        try:
            R.parse_range(v, 100)
            raise AssertionError(v)
        except R.HttpError as e:
            assert e.code == 416


def test_gzip_negotiation():
    def req(v):
        return R.parse_head(b"GET / HTTP/1.1\r\nAccept-Encoding: " + v + b"\r\n")
    assert req(b"gzip").gzip_ok() and req(b"deflate, gzip;q=0.5").gzip_ok()
    assert req(b"*").gzip_ok()
    assert not req(b"gzip;q=0").gzip_ok() and not req(b"br, deflate").gzip_ok()
    assert not R.parse_head(b"GET / HTTP/1.1\r\n").gzip_ok()
