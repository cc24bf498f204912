# The firmware's MicroPython builtin modules as the app imports them, by the profile.
#
# The emulator runs on the unix port, whose builtin modules (os, vfs, select, hashlib...) are
# not the camera's: some exist on one and not the other (vfs is absent on MicroPython 1.20,
# firmware 4.5.0-4.5.2, which mounts with os.mount/os.VfsFat), and their names differ (the
# unix os has getenv/system, the camera's has sync/dupterm). Most of these builtins cannot
# be shadowed by a file (only "extensible" ones can), so install() replaces the import
# statement itself (builtins.__import__, MICROPY_CAN_OVERRIDE_BUILTINS) for the app:
# - a module the profile marks null raises ImportError;
# - a builtin the profile describes comes as a module with exactly the profile's names: the
#   unix port's object where it has one, a small model where the camera's is simple
#   (os.sync), else a stub raising NotImplementedError("emulator: ... not modelled");
# - `import uX` finds X as the firmware's fallback does (py/builtinimport.c).
# The emulator's own modules (loaded from /.sim) keep importing the unix port's modules.
# The modules the emulator provides as files (csi, machine, time...) shape themselves.
#
# Not modelled: a builtin's behaviour beyond its names (it is the unix port's); sys is
# shadowed like the others, so `sys.path = [...]` (assigning, not changing the list) does
# not reach the interpreter (the app changes the list in place).
import builtins
import sys
import os
import _profile

_DEVICE = "/.sim/"
_real = builtins.__import__
_gated = {}          # module name -> shadow module, or None (no such module on the firmware)
_unbuilt = {}        # module name -> True until its shadow is built at first import
_u_names = {}        # "utime" -> "time": the firmware's fallback for u-prefixed names


def _sync():
    # The emulated block devices have no write cache: every block reaches the image file at
    # once, so there is nothing to flush (os.sync on the camera: CTRL_SYNC on every mount).
    return None


def _noop(*args):
    return None


# Names the unix port lacks whose camera behaviour is simple enough to model.
# sys.path is a delegated attribute (py/modsys.c MICROPY_PY_SYS_ATTR_DELEGATION): it is not
# in the module table the profile is read from, but every port has it.
_MODELS = {"os": {"sync": _sync},
           "micropython": {"alloc_emergency_exception_buf": _noop}}
_DELEGATED = {"sys": ("path", "ps1", "ps2", "tracebacklimit")}


def install():
    """Gate the builtins the profile describes; call once, before the app runs."""
    provided = set(n[:-3] for n in os.listdir(_DEVICE) if n.endswith(".py") and n[0] != "_")
    mods = _profile.top().get("modules", {})
    for name, present in mods.items():
        if name not in provided:
            _gated[name] = None
            if present:
                _unbuilt[name] = True
    for name in provided | set(_gated):
        if "u" + name not in mods:
            _u_names["u" + name] = name
    builtins.__import__ = _import


def prebuild():
    """Build every shadow now (at boot, outside the app's heap: _heap.py), not at the app's
    first import of each."""
    for name in list(_unbuilt):
        _gated[name] = _shadow(name)
    _unbuilt.clear()


def _shadow(name):
    # A fresh module object (the empty _shadow.py, taken out of sys.modules again) with
    # exactly the firmware's names; the unix port's module if the profile lists none.
    real = _real(name)
    spec = _profile.module(name)
    if not spec or "names" not in spec:
        return real
    mod = _real("_shadow")
    del sys.modules["_shadow"]
    models = _MODELS.get(name, {})
    consts = spec.get("constants", {})
    for k in list(spec["names"]) + list(_DELEGATED.get(name, ())):
        if hasattr(real, k):
            v = getattr(real, k)
        elif k in models:
            v = models[k]
        elif k in consts:
            v = consts[k]
        else:
            v = _profile.stub(name + "." + k)
        setattr(mod, k, v)
    mod.__name__ = name
    _profile.forget(name)
    return mod


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    # __import__("x") called as a function passes no globals: the app's (capture.py) or ours
    # (csi.py, for device modules only, which are never gated)
    if level == 0 and not (globals and globals.get("__file__", "").startswith(_DEVICE)):
        name = _u_names.get(name, name)
        if name in _gated:
            if _unbuilt.pop(name, False):
                _gated[name] = _shadow(name)
            mod = _gated[name]
            if mod is None:
                raise ImportError("no module named '%s'" % name)
            return mod
    return _real(name, globals, locals, fromlist, level)
