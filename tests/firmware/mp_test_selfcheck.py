# The harness itself: firmware tests really run in MicroPython, not CPython.
import sys


def test_runs_in_micropython():
    assert sys.implementation.name == "micropython"


def test_heap_is_camera_sized():
    import gc
    gc.collect()
    total = gc.mem_free() + gc.mem_alloc()
    # the camera has about 8 MB of GC heap; the harness must not hide memory trouble
    assert 7_000_000 < total <= 8_400_000, total
