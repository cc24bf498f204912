"""Adaptive frame size (issue 10): the real app on the emulated board with the camera's network
stack (--net-model) and a slow WiFi link, a real photograph as the scene. The camera lowers
the JPEG quality until its frames pass the link at stream.target_fps, climbs back to
camera.quality when nobody watches, and keeps camera.quality with target_fps 0."""
import json
import time

from tools import probe

from . import appkit, httpkit

LINK = 450000           # bytes/s: a 720p photo at quality 80 (about 90 KB) passes at 5 fps
SCENE = "photo:flower"
BOARD = {"net_model": True, "link_rate": LINK, "source": SCENE}


def get_param(url, key):
    """GET_PARAMETER `key` outside any session (tools.probe's own client)."""
    conn = probe.Connection(probe.parse_url(url), 5)
    try:
        r = conn.request("GET_PARAMETER", probe.parse_url(url).url,
                         {"Content-Type": "text/parameters"}, body=(key + "\r\n").encode())
    finally:
        conn.close()
    assert r.status == 200, r
    k, _, v = r.body.decode().strip().partition(":")
    assert k == key, r.body
    return int(v)


def wait_param(url, key, ok, timeout):
    """Ask until ok(value) (bounded); returns the last value."""
    end = time.monotonic() + timeout
    while True:
        v = get_param(url, key)
        if ok(v) or time.monotonic() > end:
            return v
        time.sleep(0.2)         # the camera climbs one step per 100 ms


def test_a_slow_link_gets_smaller_frames_at_the_target_rate(tmp_path):
    changes = {"camera": {"quality": 80}, "stream": {"target_fps": 10}}
    with appkit.app(tmp_path, changes, **BOARD) as (b, url):
        first = probe.probe(url, frames=25, timeout=10)     # the camera finds the quality
        s = probe.probe(url, duration=4, timeout=10)
        status = json.loads(httpkit.request(b.opt.http_port, "GET", "/status.json", "admin",
                                            appkit.PASSWORD).body)
        # nobody watches: back to camera.quality, one step per 100 ms after a second
        back = wait_param(url, "quality", lambda q: q == 80, timeout=10)
        loop_max = get_param(url, "loop_max_ms")
    print("link %d B/s: quality %s (tables %s), %.2f fps, %.1f kB/frame; first 25 frames %.2f "
          "fps, tables %s; longest loop pass %d ms" % (LINK, s.quality, s.quality_tables, s.fps,
                                                        s.avg_frame_kb, first.fps,
                                                        first.quality_tables, loop_max))
    assert first.quality_tables[1] == 80 and first.quality_tables[0] < 80   # it went down
    assert 30 <= s.quality < 70, s
    assert s.fps >= 7.0, s      # toward the 10 fps target, well above quality 80's 4.5-5 fps
                                # (a busy PC gave 7.2; the rate itself is make bench's: 9.9)
    assert s.avg_frame_kb * s.fps * 1024 <= LINK    # and never more than the link carries
    # what the frames' tables say is the setting (the emulator's encoder is IJG's); the setting
    # is asked after the last frame, and a step down (at most 10) may come between the two
    assert s.quality_tables[0] - 10 <= s.quality <= s.quality_tables[1] + 2, s
    assert status["quality"] < 80
    assert back == 80


def test_target_fps_0_keeps_the_configured_quality(tmp_path):
    changes = {"camera": {"quality": 80}, "stream": {"target_fps": 0}}
    with appkit.app(tmp_path, changes, **BOARD) as (b, url):
        s = probe.probe(url, duration=4, timeout=10)
        frames = get_param(url, "frames")
    print("link %d B/s, fixed quality: quality %s (tables %s), %.2f fps, %.1f kB/frame"
          % (LINK, s.quality, s.quality_tables, s.fps, s.avg_frame_kb))
    assert s.quality == 80 and s.quality_tables == [80, 80], s
    assert s.fps < 7, s                     # the link's rate at quality 80
    assert frames >= s.frames
