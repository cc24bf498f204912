"""The whole application on the emulated board, watched by real clients: 720p in both capture
modes, pixels equal to what the sensor produced, the overlay showing the RTC time."""
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from tools.sim import frames

from . import appkit
from .ntpkit import HostileNtp
from .test_sim_camera import board as camera_bus, run as run_on_bus


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_hardware_jpeg_frames_are_the_sensor_frames_at_sensor_rate(tmp_path, transport):
    with appkit.app(tmp_path, {"camera": {"mode": "hardware_jpeg", "quality": 70}}) as (b, url):
        got = appkit.decode_frames(url, 40, transport)
        history = b.camera.frames_of("jpeg")
    assert len(got) == 40 and got[0].shape == (720, 1280, 3)
    ids = [frames.read_frame_id(f) for f in got[5:]]
    # every sensor frame reached the viewer, in order: the stream runs at the sensor's rate
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids
    by_id = {r.frame_id: r for r in history}
    for f, fid in zip(got[5:], ids):
        src = np.asarray(Image.open(io.BytesIO(by_id[fid].data)).convert("RGB"))
        assert psnr(f, src) > 35


def _expected_overlay(tmp_path, overlay_cfg, when):
    """Render the overlay for each RTC time in `when` on a white image, with the app's own
    overlay module on the emulated image module (a reference picture per time)."""
    script = """
        import image, overlay, time
        cfg = %s
        for i, secs in enumerate(%s):
            t = time.gmtime(secs)
            img = image.Image(1280, 720, image.RGB565)
            img.draw_rectangle((0, 0, 1280, 720), color=(255, 255, 255), fill=True)
            overlay.Overlay(cfg, clock=lambda: t).draw(img)
            img.save("ref%%d.bmp" %% i)
        R("n", len(%s))
    """ % (json.dumps(overlay_cfg), list(when), list(when))
    with camera_bus() as (_, srv):
        run_on_bus(srv, script, tmp_path)
    return [np.asarray(Image.open(tmp_path / ("ref%d.bmp" % i)).convert("RGB"))
            for i in range(len(when))]


@pytest.mark.parametrize("sub", ["422", "420"])
def test_overlay_mode_stamps_the_rtc_time(tmp_path, sub):
    ntp = HostileNtp("good")
    try:
        changes = {"camera": {"mode": "overlay", "subsampling": sub, "quality": 85},
                   "overlay": {"camera_name": "GATE"}}
        with appkit.app(tmp_path, changes, ntp_port=ntp.port) as (b, url):
            b.wait_for(lambda k, t: k == "rtc", timeout=20)       # NTP set the clock
            got = appkit.decode_frames(url, 10)
            t_seen = int(b.rtc_now())
            encoded = b.camera.frames_of("to_jpeg")
    finally:
        ntp.close()
    assert got[-1].shape == (720, 1280, 3)
    sampling = {"422": (2, 1), "420": (2, 2)}[sub]
    im = Image.open(io.BytesIO(encoded[-1].data))
    assert im.layer[0][1:3] == sampling             # CPU JPEG with the configured subsampling
    frame = got[-1]
    cfg = appkit.config(changes)["overlay"]
    when = list(range(t_seen - 4, t_seen + 1)) + [t_seen + 3600]
    refs = _expected_overlay(tmp_path, cfg, when)
    box = np.any(refs[0] != 255, axis=2)            # where the overlay drew (box + text)
    ys, xs = np.nonzero(box)
    region = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))

    def ink(rgb):
        return rgb[region].mean(axis=2) > 128

    mism = [(ink(frame) != ink(r)).mean() for r in refs]
    best = min(mism[:-1])
    assert best < 0.002, mism                        # the frame shows one of those seconds
    assert mism[-1] > 3 * max(best, 0.001), mism     # and not a time an hour off


def test_overlay_says_unsynced_until_ntp_answers(tmp_path):
    changes = {"camera": {"mode": "overlay"}}
    with appkit.app(tmp_path, changes) as (b, url):
        got = appkit.decode_frames(url, 5)
    cfg = appkit.config(changes)["overlay"]
    # The reference for "unsynced": the overlay module with a clock that says "not synced"
    script = """
        import image, overlay
        img = image.Image(1280, 720, image.RGB565)
        img.draw_rectangle((0, 0, 1280, 720), color=(255, 255, 255), fill=True)
        overlay.Overlay(%s, clock=lambda: None).draw(img)
        img.save("unsynced.bmp")
    """ % json.dumps(cfg)
    with camera_bus() as (_, srv):
        run_on_bus(srv, script, tmp_path)
    ref = np.asarray(Image.open(tmp_path / "unsynced.bmp").convert("RGB"))
    box = np.any(ref != 255, axis=2)
    ys, xs = np.nonzero(box)
    region = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    assert ((got[-1][region].mean(axis=2) > 128) != (ref[region].mean(axis=2) > 128)).mean() < 0.02
