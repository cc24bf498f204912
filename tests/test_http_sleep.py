"""An MJPEG viewer is a viewer: it keeps a battery camera awake, and deep sleep comes the
grace period after the last viewer of either kind has gone, not before. With auth "none"
the web server opens everything without a password. One boot for all of it."""
import threading
import time

from tests import appkit, httpkit

GRACE_S = 3


def test_mjpeg_viewer_keeps_it_awake_sleep_after_the_grace_and_auth_none_opens_all(tmp_path):
    changes = {"rtsp": {"auth": "none"},
               "power": {"deep_sleep": True, "grace_period_s": GRACE_S, "awake_window_s": 600,
                         "sleep_duration_s": 600}}
    with appkit.app(tmp_path, changes, time_scale=0.01) as (b, url):
        b.wait_console("Web page:")
        port = b.opt.http_port
        assert "@" not in url
        # auth none: every URL answers without a password
        for method, path, code in (("GET", "/", 200), ("GET", "/status.json", 200),
                                   ("GET", "/snapshot.jpg", 200), ("GET", "/stills/", 200),
                                   ("GET", "/stills/?format=json", 200), ("POST", "/still", 202),
                                   ("HEAD", "/", 200)):
            r = httpkit.send(port, method, path)
            assert r.status == code and "www-authenticate" not in r.headers, (path, r)

        # an MJPEG viewer alone, for twice the grace period: no sleep
        mj = httpkit.MjpegViewer(port)
        mj.wait_frames(5)
        t_first = time.monotonic()
        time.sleep(2 * GRACE_S)
        assert not any(k == "sleep" for _, k, _ in b.events)
        assert mj.frames > 2 * GRACE_S * 20 and mj.error is None
        # ...and the LED says streaming: steady green from a moment after it started
        tl = appkit.led_timeline(b)
        lit = [c for t_, c in tl if t_ <= t_first + 0.5][-1:] + [
            c for t_, c in tl if t_first + 0.5 < t_ <= t_first + 2 * GRACE_S]
        assert lit and all(c == {"green"} for c in lit), lit

        # an RTSP viewer joins: both get frames
        stop = threading.Event()
        got = []

        def watch():
            with appkit.open_stream(url) as c:
                for f in c.decode(video=0):
                    got.append(time.monotonic())
                    if stop.is_set() or len(got) > 2000:
                        break
        t = threading.Thread(target=watch)
        t.start()
        deadline = time.monotonic() + 20
        while len(got) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        # two viewers share the camera's 600 kB/s link (rtspd.budget): a few frames a second
        # each, and neither is starved
        n_mj, n_rtsp = mj.frames, len(got)
        time.sleep(2)
        assert len(got) - n_rtsp >= 3 and mj.frames - n_mj >= 3, (len(got) - n_rtsp,
                                                                  mj.frames - n_mj)

        # the RTSP viewer leaves; the MJPEG one still keeps the camera up
        stop.set()
        t.join(10)
        time.sleep(GRACE_S + 1)
        assert not any(k == "sleep" for _, k, _ in b.events)
        # the last one leaves: sleep after the grace period, not before
        mj.close()
        t_left = time.monotonic()
        i = b.wait_for(lambda k, txt: k == "sleep", timeout=GRACE_S + 10)
        slept = b.events[i][0] - t_left
        log = "\n".join(b.console)
    assert GRACE_S - 0.5 <= slept <= GRACE_S + 3, slept
    assert log.count("first viewer started playing") == 1, log     # one watching spell
    assert "last viewer gone" in log and "going to deep sleep" in log
    assert t_left - t_first > 3 * GRACE_S
