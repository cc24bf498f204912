"""The emulated frame-buffer pool's other end: sensor.alloc_extra_fb / dealloc_extra_fb (fb_alloc,
src/omv/modules/py_sensor.c @v4.5.2) and sensor.get_frame_available (framebuffer tail != head),
which the app's lean mode and its capture pacing use."""
from .camkit import FW45, board, run


def test_extra_frame_buffers_come_from_the_pool_not_the_heap(tmp_path):
    with board(firmware=FW45) as (cam, srv):
        out = run(srv, """
            import gc, sensor
            sensor.reset()
            sensor.set_pixformat(sensor.JPEG)
            sensor.set_framesize(sensor.HD)
            gc.collect()
            free = gc.mem_free()
            img = sensor.alloc_extra_fb(300000, 1, sensor.GRAYSCALE)
            b = img.bytearray()
            gc.collect()
            R("heap_used", free - gc.mem_free())
            R("len", len(b))
            R("zeroed", b[0] == 0 and b[299999] == 0)
            b[5] = 7
            R("view", img.bytearray()[5])          # a view of the same memory, not a copy
            R("args", [err(sensor.alloc_extra_fb, 0, 1, sensor.GRAYSCALE),
                       err(sensor.alloc_extra_fb, 1, 0, sensor.GRAYSCALE),
                       err(sensor.alloc_extra_fb, 1, 1, 12345)])
            # the pool holds three HD buffers; what is left runs out
            n = 0
            while n < 100 and err(sensor.alloc_extra_fb, 262144, 1, sensor.GRAYSCALE) is None:
                n += 1
            R("more", n)
            R("full", err(sensor.alloc_extra_fb, 262144, 1, sensor.GRAYSCALE))
            sensor.dealloc_extra_fb()
            R("after_free", err(sensor.alloc_extra_fb, 262144, 1, sensor.GRAYSCALE))
            R("frame", sensor.snapshot().size() > 1000)    # capture still works beside them
        """, tmp_path)
    assert out["heap_used"] < 4096          # the image object only, not 300 KB
    assert out["len"] == 300000 and out["zeroed"] and out["view"] == 7
    assert [e[0] for e in out["args"]] == ["OSError", "OSError", "OSError"]
    assert 0 < out["more"] < 5
    assert out["full"] == ["MemoryError", "Out of fast frame buffer stack memory"]
    assert out["after_free"] is None and out["frame"]


def test_get_frame_available_says_whether_a_frame_waits(tmp_path):
    with board(firmware=FW45, fps=10) as (cam, srv):
        out = run(srv, """
            import sensor, time
            sensor.reset()
            sensor.set_pixformat(sensor.JPEG)
            sensor.set_framesize(sensor.VGA)
            R("before_streaming", sensor.get_frame_available())
            sensor.snapshot()
            R("just_taken", sensor.get_frame_available())
            t = time.ticks_ms()
            while not sensor.get_frame_available() and time.ticks_diff(time.ticks_ms(), t) < 2000:
                time.sleep_ms(5)
            R("waited_ms", time.ticks_diff(time.ticks_ms(), t))
            R("then", sensor.get_frame_available())
        """, tmp_path)
    assert out["before_streaming"] is False and out["just_taken"] is False
    assert 50 <= out["waited_ms"] <= 200 and out["then"] is True      # 10 fps: 100 ms a frame
