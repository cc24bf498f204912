"""The web page as shipped: compressed copy in step with the source, nothing fetched from
elsewhere, both on the camera's drive; the emulator prints the page's address."""
import gzip
import re

import pytest

from tools import webpage
from tools.appfiles import app_files
from tools.sim.__main__ import page_url
from tools.sim.console import Console

pytestmark = pytest.mark.quick


def test_compressed_page_is_the_page_and_smaller():
    raw = webpage.PAGE.read_bytes()
    gz = webpage.PAGE.with_name("index.html.gz").read_bytes()
    assert gzip.decompress(gz) == raw, "run python -m tools.webpage after editing the page"
    assert len(gz) < len(raw) // 2


def test_page_has_no_external_assets_and_the_parts_it_needs():
    html = webpage.PAGE.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"'](https?:)?//", html)
    assert not re.search(r"""fetch\(\s*["'](https?:)?//""", html)
    assert "<style>" in html and "<script>" in html and 'name="viewport"' in html
    for part in ('id="live"', "/stream.mjpg", 'id="still"', "/still", "/stills/?format=json",
                 "/status.json"):
        assert part in html, part


def test_page_goes_onto_the_drive():
    dst = [d for _, d in app_files()]
    assert "lib/webd/index.html" in dst and "lib/webd/index.html.gz" in dst


def test_emulator_prints_the_page_url_beside_the_stream():
    line = "Web page: http://192.168.1.50:80/  (same user and password)"
    assert page_url(line, 8080) == "http://127.0.0.1:8080/"
    assert page_url("Stream URL: rtsp://1.2.3.4:554/stream", 8080) is None
    out = []
    c = Console(out=out.append)
    c.add_url("rtsp://admin:pw@127.0.0.1:8554/stream")
    c.add_url(page_url(line, 8080))
    c.leds._report([("green", 100), ("off", 1900)])
    assert out[-3:] == ["  rtsp://admin:pw@127.0.0.1:8554/stream", "  http://127.0.0.1:8080/",
                        out[-1]] and out[-1].startswith("=")
    assert "or a browser" in out[-4]
