"""The camera's web server with real clients (curl, ffmpeg, raw sockets, an MJPEG reader, a
PyAV RTSP viewer) against the real app on the emulated board. Each test boots the camera once
and checks several things with it (boots are what costs time)."""
import io
import json
import os
import re
import subprocess
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests import appkit, httpkit
from tools import mpy
from tools.appfiles import app_files
from tools.sim import storage

PW = appkit.PASSWORD
URLS = ("/", "/index.html", "/snapshot.jpg", "/stream.mjpg", "/status.json", "/stills/",
        "/stills/unsynced/20130101-000000.jpg", "/nothing")


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-s", "--max-time", str(timeout)] + list(args),
                          capture_output=True, timeout=timeout + 5)


def heap(port):
    """Free heap after a collection, from /status.json (it collects at most every 2 s)."""
    time.sleep(2.1)
    r = httpkit.request(port, "GET", "/status.json", "admin", PW)
    assert r.status == 200, r
    return json.loads(r.body)["heap_free"]


@pytest.mark.long
def test_snapshot_stream_status_auth_and_refusals(tmp_path):
    with appkit.app(tmp_path) as (b, url):
        b.wait_console("Web page:")
        port = b.opt.http_port
        base = "http://127.0.0.1:%d" % port

        # curl --digest gets a JPEG taken now, 1280x720, that decodes
        snap = tmp_path / "snap.jpg"
        r = curl("--digest", "-u", "admin:" + PW, "-D", str(tmp_path / "h.txt"), "-o", str(snap),
                 "-w", "%{http_code}", base + "/snapshot.jpg")
        assert r.stdout == b"200", r
        head = (tmp_path / "h.txt").read_text()
        img = Image.open(snap)
        img.load()
        assert img.size == (1280, 720) and img.format == "JPEG"
        assert "no-store" in head and "Content-Length: %d" % snap.stat().st_size in head

        # ffmpeg reads the MJPEG stream: 30 frames decoded
        r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i",
                            "http://admin:%s@127.0.0.1:%d/stream.mjpg" % (PW, port),
                            "-frames:v", "30", "-f", "framecrc", "-"],
                           capture_output=True, text=True, timeout=60)
        frames = [x for x in r.stdout.splitlines() if x and not x.startswith("#")]
        assert r.returncode == 0 and len(frames) == 30, r.stderr[-2000:]
        assert "1280x720" in r.stdout or "#dimensions 0: 1280x720" in r.stdout

        # a wrong password, or none, gets 401 everywhere; the right one gets in
        for path in URLS:
            method = "POST" if path == "/still" else "GET"
            assert httpkit.request(port, method, path, "admin", "wrong-password").status == 401
            assert httpkit.send(port, method, path).status == 401
        r = curl("--digest", "-u", "admin:nope", "-o", "/dev/null", "-w", "%{http_code}",
                 base + "/status.json")
        assert r.stdout == b"401"

        # the status says what a user asks about
        s = json.loads(httpkit.request(port, "GET", "/status.json", "admin", PW).body)
        assert s["version"] == re.search(r'version = "([^"]+)"',
                                         (mpy.ROOT / "pyproject.toml").read_text()).group(1)
        assert s["firmware"] == "5.0.0" and s["uptime_s"] >= 0 and s["heap_free"] > 1000000
        assert s["storage"]["drive"] == "sd" and s["storage"]["free"] > 100 * 1024 * 1024
        assert s["wifi"]["ip"] == "127.0.0.1" and isinstance(s["wifi"]["rssi"], int)
        assert s["time"]["synced"] is False and s["last_crash"] is None
        assert s["viewers"] == {"rtsp": 0, "http": 0}

        # refused: traversal (also encoded), oversized and malformed requests, wrong methods
        for path in ("/stills/../config.json", "/stills/%2e%2e/config.json",
                     "/stills/..%2fconfig.json", "/stills/%2E%2E%2F%2E%2E%2Fmain.py",
                     "/stills/..%5cconfig.json", "/stills//sdcard/config.json",
                     "/stills/unsynced/..%2f..%2fsecrets.json", "/../../config.json"):
            r = httpkit.request(port, "GET", path, "admin", PW)
            assert r.status in (400, 404) and b"password" not in r.body, (path, r)
        for data, code in ((b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n", 414),
                           (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 40 + b"\r\n", 431),
                           (b"GET / HTTP/1.1\r\nX-Big: " + b"c" * 4000 + b"\r\n\r\n", 431),
                           (b"POST /still HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
                           (b"PUT / HTTP/1.1\r\n\r\n", 405),
                           (b"GET / HTTP/3\r\n\r\n", 400)):
            assert httpkit.status_of(httpkit.raw(port, data)) == code, data[:40]
        r = httpkit.request(port, "DELETE", "/status.json", "admin", PW)
        assert r.status == 405 and r.headers["allow"] == "GET, HEAD"

        # an RTSP viewer and an MJPEG viewer at once: both get frames, both are counted
        mj = httpkit.MjpegViewer(port, "admin", PW)
        try:
            assert mj.status == 200
            mj.wait_frames(3)
            got = {}
            t = threading.Thread(target=lambda: got.setdefault(
                "rtsp", appkit.decode_frames(url, 40, limit_s=30)))
            t.start()
            n0 = mj.frames
            while t.is_alive():
                s = json.loads(httpkit.request(port, "GET", "/status.json", "admin", PW).body)
                if s["viewers"] == {"rtsp": 1, "http": 1}:
                    break
                time.sleep(0.2)
            t.join(40)
            assert s["viewers"] == {"rtsp": 1, "http": 1}
            assert len(got["rtsp"]) == 40 and got["rtsp"][0].shape == (720, 1280, 3)
            assert mj.frames - n0 >= 20, (n0, mj.frames)
            assert Image.open(io.BytesIO(mj.last[-1])).size == (1280, 720)
        finally:
            mj.close()
        log = "\n".join(b.console)
    assert "first viewer started playing" in log and "Traceback" not in log


def _big_card(tmp_path, changes):
    """An SD card with the app and a 5 MB file in the stills folder; its bytes and name."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(appkit.config(changes), indent=1))
    img = tmp_path / "sd.img"
    storage.make_fat_image(img, 512, app_files(mpy.ROOT, cfg), label="SDCARD")
    data = bytearray(os.urandom(5 * 1024 * 1024))
    data[0:2], data[-2:] = b"\xff\xd8", b"\xff\xd9"
    src = tmp_path / "big.jpg"
    src.write_bytes(data)
    name = "stills/2024-01-01/20240101-120000.jpg"
    storage.copy_into(img, src, name)
    return img, bytes(data), name


_methods = st.sampled_from(["GET"] * 4 + ["HEAD", "POST", "DELETE", "PUT", "OPTIONS", "get",
                                         "G\x00T", "", "GET GET", "\xff\xfe"])
_targets = st.one_of(
    st.sampled_from(list(URLS) + ["/stills/2024-01-01/20240101-120000.jpg", "*",
                                  "http://x/status.json", "/stills/%2e%2e/%2e%2e/config.json",
                                  "/%00", "/%", "/stills/?page=-1", "/stills/?per=99999999999"]),
    st.text(min_size=0, max_size=300),
    st.text(st.characters(exclude_characters=" \r\n"), max_size=300).map(lambda s: "/" + s),
    st.text(alphabet="/.%2e5cC\\?&=#", min_size=1, max_size=60).map(lambda s: "/" + s))
_line_text = st.text(st.characters(exclude_characters="\r\n"), max_size=200)
_names = st.sampled_from(["Authorization", "Range", "Content-Length", "Accept",
                          "Accept-Encoding", "Transfer-Encoding", "Host", "User-Agent"])
_headers = st.lists(st.tuples(
    st.one_of(_names, _names, _names, st.sampled_from([" X", "X ", ""]),
              st.text(min_size=0, max_size=20)),
    st.one_of(st.sampled_from(['Digest username="admin", nonce="x", response="y"',
                               "Basic YWRtaW46eA==", "bytes=0-", "bytes=-0", "-1", "99999999",
                               "chunked", "gzip"]),
              _line_text, _line_text, st.text(max_size=200))), max_size=6)
_many = st.lists(st.tuples(_names, _line_text), min_size=20, max_size=40)
_requests = st.one_of(
    st.builds(lambda m, t, h, v: ("%s %s %s\r\n" % (m, t, v) + "".join(
        "%s: %s\r\n" % kv for kv in h) + "\r\n").encode("utf-8", "surrogatepass"),
              _methods, _targets, _headers,
              st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2", "RTSP/1.0", ""])),
    st.builds(lambda m, t, h: ("%s %s HTTP/1.1\r\n" % (m, t) + "".join(
        "%s: %s\r\n" % kv for kv in h) + "\r\n").encode("utf-8", "surrogatepass"),
        st.sampled_from(["GET", "HEAD", "POST", "DELETE"]), _targets,
        st.lists(st.tuples(st.sampled_from(["Authorization", "Range", "Accept", "Host",
                                            "Accept-Encoding"]), _line_text), max_size=4,
                 unique_by=lambda kv: kv[0])),
    st.builds(lambda t, h: ("GET %s HTTP/1.1\r\n" % t + "".join(
        "%s: %s\r\n" % kv for kv in h) + "\r\n").encode("utf-8", "surrogatepass"),
        _targets, _many),
    st.binary(min_size=0, max_size=3000).map(lambda b: b + b"\r\n\r\n"))
REFUSED = {400, 401, 404, 405, 413, 414, 416, 431, 503}


@pytest.mark.long
def test_hostile_requests_and_a_5mb_download_leave_the_viewer_alone_and_the_heap_flat(tmp_path):
    changes = {"http": {"port": 80}}
    img, data, name = _big_card(tmp_path, changes)
    with appkit.app(tmp_path, changes, sd_image=img) as (b, url):
        b.wait_console("Web page:")
        port = b.opt.http_port
        mj = httpkit.MjpegViewer(port, "admin", PW)
        try:
            mj.wait_frames(5)
            h0 = heap(port)

            # the 5 MB still streams from the card in chunks...
            t0 = time.monotonic()
            r = httpkit.request(port, "GET", "/" + name, "admin", PW, timeout=120)
            secs = time.monotonic() - t0
            assert r.status == 200 and r.body == data, (r.status, len(r.body))
            # ...and a download cut short resumes with Range
            part = curl("--digest", "-u", "admin:" + PW, "-r", "0-1999999", "-o",
                        str(tmp_path / "part.jpg"), "http://127.0.0.1:%d/%s" % (port, name))
            assert part.returncode == 0 and (tmp_path / "part.jpg").read_bytes() == data[:2000000]
            rest = curl("--digest", "-u", "admin:" + PW, "-C", "-", "-o", str(tmp_path / "part.jpg"),
                        "-w", "%{http_code}", "http://127.0.0.1:%d/%s" % (port, name), timeout=120)
            assert rest.stdout == b"206" and (tmp_path / "part.jpg").read_bytes() == data
            h1 = heap(port)

            # a slow client: half a head, then nothing
            slow = httpkit.socket.create_connection(("127.0.0.1", port))
            slow.sendall(b"GET /status.json HTTP/1.1\r\nHost: x\r\n")
            slow_t = time.monotonic()

            # hypothesis-made requests, none authenticated: every one refused, none served
            frames0, t_fuzz = mj.frames, time.monotonic()
            seen = {}

            @settings(max_examples=150, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(_requests)
            def fuzz(req):
                code = httpkit.status_of(httpkit.raw(port, req, timeout=3))
                seen[code] = seen.get(code, 0) + 1
                assert code is None or code in REFUSED, (code, req[:120])
            fuzz()
            fuzz_s = time.monotonic() - t_fuzz
            frames = mj.frames - frames0
            gaps = [b_ - a for a, b_ in zip(mj.times, mj.times[1:]) if a >= t_fuzz]
            slow.settimeout(10)
            assert slow.recv(100) == b""        # dropped (head_ms 5 s), without an answer
            slow_s = time.monotonic() - slow_t
            slow.close()
            h2 = heap(port)
            assert mj.error is None and frames / fuzz_s > 10, (frames, fuzz_s)
            assert max(gaps) < 1.0, max(gaps)
        finally:
            mj.close()
        print("5 MB download %.1f s (%.0f kB/s); heap free %d -> %d -> %d; fuzz %d requests in "
              "%.1f s, viewer %.1f fps, longest gap %.0f ms, answers %s; slow client dropped "
              "after %.1f s" % (secs, len(data) / secs / 1000, h0, h1, h2, sum(seen.values()),
                                fuzz_s, frames / fuzz_s, max(gaps) * 1000, seen, slow_s))
        assert abs(h1 - h0) < 8192 and abs(h2 - h0) < 8192, (h0, h1, h2)
        assert 4.5 < slow_s < 8
        log = "\n".join(b.console)
    assert "Traceback" not in log and "error handling" not in log
