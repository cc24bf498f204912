# Emulated `csi` module: the camera object API of OpenMV firmware 4.8 and later
# (cam = csi.CSI(); cam.reset(); cam.pixformat(csi.JPEG); cam.framesize(csi.HD); ...).
# Older firmware has no such module: importing it fails there as on the camera.
# The sensor state and frame buffers are shared with `sensor` (tools/sim/device/_fb.py).
import image

if image._info()[:3] < (4, 8, 0):
    raise ImportError("no module named 'csi'")

import _fb

_fb.export(globals())
_fb.check_pool()
OV5640 = 0x56


class CSI:
    def __init__(self, cid=-1, delays=True, fflush=True, stream=None, fb_size=None):
        # stream=False keeps the IDE preview from costing CPU; there is no IDE here.
        self._stream = stream

    def reset(self, hard=True):
        _fb.reset()

    def shutdown(self, enable):
        _fb.shutdown(enable)

    def pixformat(self, fmt=None):
        if fmt is None:
            return _fb.get_pixformat()
        _fb.set_pixformat(fmt)

    def framesize(self, size=None):
        if size is None:
            return _fb.get_framesize()
        _fb.set_framesize(size)

    def quality(self, q):
        _fb.set_quality(q)
        return True

    def framebuffers(self, n=None):
        if n is None:
            return _fb.get_framebuffers()
        _fb.set_framebuffers(n)

    def width(self):
        return _fb.width()

    def height(self):
        return _fb.height()

    def cid(self):
        return OV5640

    def snapshot(self, *, time=-1, frames=-1, blocking=True, image=None):
        if time != -1 or frames != -1:
            # Skip frames (what skip_frames did): returns nothing.
            _fb.skip(frames, time)
            return None
        if image is not None:
            raise NotImplementedError("emulator: snapshot(image=) is not supported")
        return _fb.snapshot(blocking)
