# Emulated `sensor` module: OpenMV's legacy camera API (all firmware; deprecated in favour of
# `csi` from 5.0, where it still works). Shares the sensor and frame buffers with `csi`
# (tools/sim/device/_fb.py). Shaped by the firmware profile at the end of this file.
import _fb
import _profile

_fb.export(globals())
_fb.check_pool()
OV5640 = 0x56


def reset():
    _fb.reset()


def shutdown(enable):
    _fb.shutdown(enable)


def set_pixformat(fmt):
    _fb.set_pixformat(fmt)


def get_pixformat():
    return _fb.get_pixformat()


def set_framesize(size):
    _fb.set_framesize(size)


def get_framesize():
    return _fb.get_framesize()


def set_quality(q):
    _fb.set_quality(q)


def set_framebuffers(n):
    _fb.set_framebuffers(n)


def get_framebuffers():
    return _fb.get_framebuffers()


def width():
    return _fb.width()


def height():
    return _fb.height()


def get_id():
    return OV5640


def skip_frames(n=-1, time=-1):
    # n frames, or for `time` ms, whichever ends first; neither: 300 ms.
    _fb.skip(n, time)


def snapshot():
    return _fb.snapshot(True)


def get_frame_available():
    return _fb.frame_available()


def alloc_extra_fb(width, height, pixformat):
    return _fb.alloc_extra_fb(width, height, pixformat)


def dealloc_extra_fb():
    _fb.dealloc_extra_fb()


_profile.gate(globals(), "sensor")
_fb.learn_sizes(globals())
_profile.forget("sensor")
