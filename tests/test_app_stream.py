"""The whole application on the emulated board, watched by real clients: 720p in both capture
modes, pixels equal to what the sensor produced, the overlay showing the RTC time."""
import io

import numpy as np
import pytest
from PIL import Image

from tools.sim import frames

from . import appkit
from .ntpkit import HostileNtp
from .rtsp_support import psnr
from .camkit import ink_mismatch, overlay_references, overlay_region


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_hardware_jpeg_frames_are_the_sensor_frames_at_sensor_rate(tmp_path, transport):
    with appkit.app(tmp_path, {"camera": {"mode": "hardware_jpeg", "quality": 70}}) as (b, url):
        got = appkit.decode_frames(url, 40, transport)
        history = b.camera.frames_of("jpeg")
    assert len(got) == 40 and got[0].shape == (720, 1280, 3)
    ids = [frames.read_frame_id(f) for f in got[5:]]
    if transport == "tcp":
        # every sensor frame reached the viewer, in order: on this PC's loopback nothing slows
        # a TCP viewer alone (on the camera lwIP's send buffer would)
        assert ids == list(range(ids[0], ids[0] + len(ids))), ids
    else:
        # a UDP viewer is paced at the camera's link rate (600 kB/s, rtspd.budget) as on the
        # camera, where its datagrams would otherwise wait for the radio: sensor frames, in
        # order, none twice
        assert ids == sorted(set(ids)), ids
    by_id = {r.frame_id: r for r in history}
    for f, fid in zip(got[5:], ids):
        src = np.asarray(Image.open(io.BytesIO(by_id[fid].data)).convert("RGB"))
        assert psnr(f, src) > 35


@pytest.mark.parametrize("sub", ["422", "420"])
def test_overlay_mode_stamps_the_rtc_time(tmp_path, sub):
    ntp = HostileNtp("good")
    try:
        changes = {"camera": {"mode": "overlay", "subsampling": sub, "quality": 85},
                   "overlay": {"camera_name": "GATE"}}
        with appkit.app(tmp_path, changes, ntp_port=ntp.port) as (b, url):
            b.wait_for(lambda k, t: k == "rtc", timeout=45)       # NTP set the clock (a retry under load)
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
    # the last reference is a clearly other time (hours, minutes and seconds all differ: one
    # changed digit alone can be as close as "2" and "3" are in the font)
    when = list(range(t_seen - 4, t_seen + 1)) + [t_seen + 11 * 3600 + 11 * 60 + 11]
    refs = overlay_references(tmp_path, cfg, when)
    region = overlay_region(refs[0])
    mism = [ink_mismatch(frame, r, region) for r in refs]
    best = min(mism[:-1])
    assert best < 0.002, mism                        # the frame shows one of those seconds
    assert mism[-1] > 3 * max(best, 0.001), mism     # and not another time


def test_overlay_says_unsynced_until_ntp_answers(tmp_path):
    changes = {"camera": {"mode": "overlay"}}
    with appkit.app(tmp_path, changes) as (b, url):
        got = appkit.decode_frames(url, 5)
    # the reference: the overlay module with a clock that says "not synced"
    ref = overlay_references(tmp_path, appkit.config(changes)["overlay"], [None])[0]
    assert ink_mismatch(got[-1], ref, overlay_region(ref)) < 0.02
