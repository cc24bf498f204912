# The camera object API of OpenMV firmware 4.8 and later (modules/py_csi_ng.c), offered by
# the emulated `csi` (csi.py) on the firmware that has it:
#   cam = csi.CSI(); cam.reset(); cam.pixformat(csi.JPEG); cam.framesize(csi.HD); ...
# The sensor state and frame buffers are shared with `sensor` (tools/sim/device/_fb.py).
# The signatures are the union over the firmware versions; the keywords a version lacks
# (CSI(stream=) before 5.0, CSI(fb_size=) and snapshot(update=) from 5.0) are refused by
# the checks below from the firmware profile, as mp_arg_parse_all refuses them.
import _fb
import _profile

OV5640 = 0x56
_NO = object()          # "keyword not given"
_refuse_new = set()     # CSI() keywords this firmware lacks (set by csi.py from the profile)
_refuse_snap = set()    # snapshot() keywords this firmware lacks


def refuse(spec):
    global _refuse_new, _refuse_snap
    _refuse_new = _profile.refuse(_profile.kwargs(spec, "CSI", "make_new"),
                                  ("cid", "delays", "fflush", "stream", "fb_size"))
    _refuse_snap = _profile.refuse(_profile.kwargs(spec, "CSI", "snapshot"),
                                   ("time", "frames", "update", "blocking", "image"))


class CSI:
    # source: modules/py_csi_ng.c py_csi_make_new @v4.8.1 (cid, delays, fflush, fb_size) and
    # @v5.0.0 (cid, delays, fflush, stream): every argument is keyword-only.
    def __init__(self, *, cid=-1, delays=True, fflush=True, stream=_NO, fb_size=_NO):
        for k, v in (("stream", stream), ("fb_size", fb_size)):
            if v is not _NO and k in _refuse_new:
                raise _profile.unexpected(k)
        # stream=False keeps the IDE preview from costing CPU; there is no IDE here.

    def reset(self, *, hard=True):
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

    def snapshot(self, *, time=-1, frames=-1, update=_NO, blocking=True, image=None):
        # source: modules/py_csi_ng.c py_csi_snapshot @v4.8.1 / @v5.0.0
        if update is not _NO and "update" in _refuse_snap:
            raise _profile.unexpected("update")
        if time != -1 or frames != -1:
            # Skip frames (what skip_frames did): returns nothing.
            _fb.skip(frames, time)
            return None
        if image is not None:
            raise NotImplementedError("emulator: snapshot(image=) is not modelled")
        return _fb.snapshot(blocking)
