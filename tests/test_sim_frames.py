"""The emulator's photo frame source (tools/sim/frames.py PhotoSource): a real picture whose
JPEGs are as big as a real camera's, moving, cheap enough for 30 fps."""
import statistics
import time

import numpy as np
import pytest

from tools.sim import frames

TIMES = (0, 2.5, 5, 7.5, 10, 12.5, 15, 17.5)      # one pan-and-zoom period


@pytest.fixture(scope="module")
def china():
    return frames.open_source("photo")


def _sizes(src, quality, w=1280, h=720):
    return [len(frames.encode_jpeg(src.frame(w, h, i, t), quality)) for i, t in enumerate(TIMES)]


def test_720p_quality_80_is_as_big_as_the_ov5640s(china):
    kb = [n / 1024 for n in _sizes(china, 80)]
    # the figure for a real scene: 100-150 KB (the synthetic scene: about 60 KB)
    assert 100 <= min(kb) and max(kb) <= 150, kb


def test_size_grows_with_quality(china):
    med = [statistics.median(_sizes(china, q)) for q in (50, 65, 80, 90)]
    assert med == sorted(med) and med[0] * 2 < med[3], med


def test_the_view_moves_and_carries_the_frame_id(china):
    a = china.frame(1280, 720, 7, 0.0)
    b = china.frame(1280, 720, 8, 1.0)
    assert a.shape == (720, 1280, 3) and a.dtype == np.uint8
    diff = np.abs(a.astype(int) - b.astype(int))[100:, 100:].mean()
    assert diff > 5, diff                       # panned: not the same picture plus noise
    assert frames.read_frame_id(a) == 7 and frames.read_frame_id(b) == 8


def test_other_sizes_and_the_second_photo():
    src = frames.open_source("photo:flower")
    assert src.frame(640, 480, 0, 3.0).shape == (480, 640, 3)
    assert src.frame(320, 240, 1, 3.0).shape == (240, 320, 3)
    with pytest.raises(ValueError):
        frames.open_source("photo:nothing")


def test_a_frame_costs_well_under_a_30_fps_period(china):
    china.frame(1280, 720, 0, 0.0)              # the noise bank is made once per size
    took = []
    for i in range(10):
        t0 = time.process_time()        # CPU time: the other tests' processes do not count
        china.frame(1280, 720, i, i / 30)
        took.append(time.process_time() - t0)
    assert statistics.median(took) < 1 / 30, took
