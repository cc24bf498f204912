# The firmware profile of the emulated board (tools/sim/profiles/<version>.json): which
# modules, names, keywords and behaviours the chosen firmware version has. The emulated
# modules shape themselves with it at import, so an app meets exactly the surface of that
# firmware: a module the firmware lacks fails to import, a name it lacks is an
# AttributeError, a keyword it lacks a TypeError.
#
# The host serves the profile one part at a time (bus "profile": b"" -> firmware, layout and
# the facts' values; b"module:NAME" -> that module's section, "null" when the firmware has no
# such module, {} when the profile does not describe it). A part is read once per process.
# Without a board (the firmware unit tests, SIM_BUS unset) nothing is gated: every name the
# emulator models is there; tests may install a profile with use().
#
# Names the firmware has and the emulator does not model are present as stubs that raise
# NotImplementedError("emulator: ... not modelled"): feature tests (hasattr, getattr(m, n,
# None)) answer as on the camera, and a call says plainly that the emulator is the limit.
import os
import json

_top = None
_modules = {}
_local = None          # a whole profile installed by use() (tests without a board)


def use(profile):
    """Install a whole profile (a dict as in the JSON file) without a board; None: ungated.
    Modules imported before keep the shape they had."""
    global _top, _local
    _local = profile
    _top = None
    _modules.clear()


def _board():
    return _local is None and os.getenv("SIM_BUS")


def top():
    """{"firmware": [x, y, z], "layout": ..., "facts": {name: value}} ({} without a profile)."""
    global _top
    if _top is None:
        if _local is not None:
            facts = {k: v.get("value") for k, v in _local.get("facts", {}).items()}
            _top = {"firmware": _local.get("firmware"), "layout": _local.get("layout"),
                    "facts": facts,
                    "modules": {k: v is not None for k, v in _local.get("modules", {}).items()}}
        elif _board():
            import _bus
            _top = json.loads(_bus.call("profile"))
        else:
            _top = {}
    return _top


def fact(name, default=None):
    """The value of a behaviour fact of this firmware (default without a profile)."""
    return top().get("facts", {}).get(name, default)


def module(name):
    """The profile's section for module `name`: a dict ({} when not described or without a
    profile), or None when the firmware has no such module."""
    if name not in _modules:
        if _local is not None:
            mods = _local.get("modules", {})
            _modules[name] = mods[name] if name in mods else {}
        elif _board():
            import _bus
            _modules[name] = json.loads(_bus.call("profile", "module:" + name))
        else:
            _modules[name] = {}
    return _modules[name]


def forget(name):
    # The section was applied: its lists need not stay in the app's heap.
    _modules.pop(name, None)


def require(name):
    """The module's section; ImportError (as on the camera) when the firmware has no `name`."""
    spec = module(name)
    if spec is None:
        raise ImportError("no module named '%s'" % name)
    return spec


def stub(qual):
    def missing(*args, **kw):
        raise NotImplementedError("emulator: %s is not modelled" % qual)
    return missing


def shape(ns, spec, qual):
    """Make namespace dict `ns` (a module's globals) offer exactly spec's names: public names
    the firmware lacks are removed, its int constants take the firmware's values, names the
    emulator lacks become stubs. Private names (_x) stay: the emulator's own machinery."""
    names = spec.get("names")
    consts = spec.get("constants", {})
    for k, v in consts.items():
        ns[k] = v
    if names is None:
        return
    keep = set(names)
    for k in list(ns):
        if k[0] != "_" and k not in keep:
            del ns[k]
    for k in names:
        if k not in ns:
            ns[k] = stub(qual + "." + k)


def shape_class(cls, spec, qual):
    """As shape() for a class's own attributes (methods and constants)."""
    names = spec.get("names")
    for k, v in spec.get("constants", {}).items():
        setattr(cls, k, v)
    if names is None:
        return
    keep = set(names)
    for k in list(cls.__dict__):
        if k[0] != "_" and k not in keep:
            delattr(cls, k)
    for k in names:
        if k[0] != "_" and not hasattr(cls, k):
            setattr(cls, k, stub(qual + "." + k))


def gate(ns, name):
    """Shape module `name` (namespace ns) and its classes by the profile; returns its section.
    ImportError when the firmware has no such module."""
    spec = require(name)
    shape(ns, spec, name)
    for cname, cspec in spec.get("classes", {}).items():
        cls = ns.get(cname)
        if isinstance(cls, type):
            shape_class(cls, cspec, name + "." + cname)
    return spec


def signature(spec, cls, method):
    """The profile's entry for a function or method: {"kwargs": [...], "positional": ...,
    "ignores_unknown_kwargs": bool, ...}; {} when not described."""
    c = spec.get("classes", {}).get(cls, {}) if cls else spec
    return c.get("methods" if cls else "functions", {}).get(method, {})


def kwargs(spec, cls, method):
    """The keywords a method (or "make_new", the constructor) accepts on this firmware, as a
    set; None when it refuses none: no profile, or the firmware reads its keywords one by
    one (py_helper_keyword_*) and so ignores unknown ones."""
    if method == "make_new":
        kw = spec.get("classes", {}).get(cls, {}).get("make_new_kwargs")
        return None if kw is None else set(kw)
    sig = signature(spec, cls, method)
    if "kwargs" not in sig or sig.get("ignores_unknown_kwargs"):
        return None
    return set(sig["kwargs"])


def refuse(allowed, superset):
    """The keywords of the emulator's signature (`superset`) that the firmware refuses."""
    if allowed is None:
        return set()
    return set(k for k in superset if k not in allowed)


def unexpected(name):
    # MicroPython's own message (py/argcheck.c mp_arg_parse_all)
    return TypeError("unexpected keyword argument '%s'" % name)
