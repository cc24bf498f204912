"""The camera's web page in a real browser (headless Chromium, Debian's package) against the
emulated camera with its network stack modelled (lwIP's 5 TCP connections, send buffers
drained at the WiFi link's rate): the login, the live view, a still taken from the page and
downloaded byte for byte, and an RTSP viewer that still gets in while the page is open.
The screenshots stay in the test's folder (and in $TEST_ARTIFACTS/<test> when it is set)."""
import base64
import io
import time

import pytest
from PIL import Image, ImageChops

from tests import appkit
from tests.browserkit import CHROMIUM, Browser, keep_artifacts
from tools.sim import storage

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(tools/setup_system.sh installs it)")

LIVE = "document.getElementById('live')"


def _clip(br):
    r = br.eval("JSON.stringify(%s.getBoundingClientRect())" % LIVE)
    import json
    r = json.loads(r)
    return {"x": r["x"], "y": r["y"], "width": r["width"], "height": r["height"]}


def _wait_msg(br, prefix, timeout):
    """The page's message line once it starts with prefix (AssertionError with the last one)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = br.eval("document.getElementById('msg').textContent")
        if msg.startswith(prefix):
            return msg
        assert time.monotonic() < deadline, "page says %r, not %r..." % (msg, prefix)
        time.sleep(0.2)


@pytest.mark.long
def test_page_live_view_still_download_and_rtsp_beside_it(tmp_path):
    shots = []
    with appkit.app(tmp_path, net_model=True) as (b, url):
        b.wait_console("Web page:")
        port = b.opt.http_port
        with Browser(tmp_path, "admin", appkit.PASSWORD) as br:
            br.goto("http://127.0.0.1:%d/" % port)
            assert br.auth_asked >= 1                       # the login box, answered
            # the live view: a 1280x720 picture that moves
            size = br.wait_js("%s.naturalWidth && [%s.naturalWidth, %s.naturalHeight]"
                              % (LIVE, LIVE, LIVE), timeout=20)
            assert size == [1280, 720]
            br.wait_js("document.getElementById('status').textContent.includes('1 HTTP')")
            clip = _clip(br)
            a = tmp_path / "live-1.png"
            br.screenshot(a, clip)
            time.sleep(1.0)
            c = tmp_path / "live-2.png"
            br.screenshot(c, clip)
            shots += [a, c]
            ia, ic = Image.open(a).convert("RGB"), Image.open(c).convert("RGB")
            assert ia.size[0] > 600 and ImageChops.difference(ia, ic).getbbox() is not None

            # the still button: a still is saved and shows at the top of the list
            before = br.eval("document.querySelectorAll('#list li').length")
            br.eval("document.getElementById('still').click()")
            msg = _wait_msg(br, "still saved", 40)
            name = msg.split(": ", 1)[1]
            assert br.eval("document.querySelectorAll('#list li').length") == before + 1
            assert br.eval("document.querySelector('#list li a').textContent") == name
            page = tmp_path / "page.png"
            br.screenshot(page)
            shots.append(page)

            # downloaded by the browser: byte for byte the file on the card
            b64 = br.eval("""(async () => {
                const href = document.querySelector('#list li a').href;
                const r = await fetch(href);
                const b = new Uint8Array(await r.arrayBuffer());
                let s = ''; for (const x of b) s += String.fromCharCode(x);
                return r.status + ' ' + btoa(s); })()""", timeout=60)
            status, data = b64.split(" ", 1)
            got = base64.b64decode(data)
            on_card = storage.read_file(b.sd_image, "stills/" + name)
            assert status == "200" and on_card and got == on_card
            assert Image.open(io.BytesIO(got)).size == (1280, 720)

            # with the page open and its live view running, an RTSP viewer gets in and plays
            frames = appkit.decode_frames(url, 6, limit_s=30)
            assert len(frames) == 6 and frames[-1].shape == (720, 1280, 3)
            assert br.eval("%s.naturalWidth" % LIVE) == 1280
            after = tmp_path / "live-3.png"
            br.screenshot(after, clip)
            shots.append(after)
            assert ImageChops.difference(ic, Image.open(after).convert("RGB")).getbbox()
        log = "\n".join(b.console)
    keep_artifacts(shots, "test_http_browser")
    assert "Traceback" not in log
