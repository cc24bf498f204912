# Emulated `csi` module, shaped by the firmware profile (tools/sim/device/_profile.py):
# - firmware without it (4.5.x): `import csi` raises ImportError, as on the camera;
# - 4.6.x-4.7.x: the firmware registers the legacy `sensor` module a second time under the
#   name `csi` (profile "alias_of": "sensor"; source: modules/py_csi.c MP_REGISTER_MODULE
#   @v4.7.0): `import csi` works and is `sensor`, so csi.CSI is an AttributeError;
# - 4.8 and later: the camera object API (csi.CSI, _csi.py), with the keywords of that version.
import _profile

_spec = _profile.require("csi")
if _spec.get("alias_of"):
    import sys
    _m = __import__(_spec["alias_of"])
    globals().update(_m.__dict__)       # the first import returns this module: same contents
    sys.modules["csi"] = _m             # later imports get the very module, as on the camera
    del sys
else:
    import _fb
    import _csi
    _fb.export(globals())
    _fb.check_pool()
    CSI = _csi.CSI
    OV5640 = _csi.OV5640
    _profile.gate(globals(), "csi")
    _csi.refuse(_spec)
    _fb.learn_sizes(globals())
_profile.forget("csi")
del _spec
