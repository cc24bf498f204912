# The emulator's profile machinery (tools/sim/device/_profile.py) inside MicroPython, without
# a board: how a module's namespace and classes take a firmware's shape.
import sys
import _profile


def _raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return str(e)
    raise AssertionError("no " + exc.__name__)


def test_shape_keeps_exactly_the_firmwares_names():
    ns = {"a": 1, "gone": 2, "_private": 3, "K": 0}
    _profile.shape(ns, {"names": ["K", "a", "later"], "constants": {"K": 7}}, "mod")
    assert ns["a"] == 1 and ns["K"] == 7 and ns["_private"] == 3
    assert "gone" not in ns
    msg = _raises(NotImplementedError, ns["later"], 1)
    assert msg == "emulator: mod.later is not modelled", msg


def test_shape_class_removes_methods_and_sets_constants():
    class C:
        PM = 1

        def keep(self):
            return "kept"

        def drop(self):
            return "dropped"

    _profile.shape_class(C, {"names": ["PM", "keep", "extra"], "constants": {"PM": 16}}, "m.C")
    c = C()
    assert C.PM == 16 and c.keep() == "kept" and not hasattr(c, "drop")
    _raises(NotImplementedError, c.extra)


def test_absent_module_is_an_import_error():
    _profile.use({"firmware": [4, 5, 2], "modules": {"csi": None, "vfs": None}, "facts": {}})
    try:
        sys.modules.pop("csi", None)
        msg = _raises(ImportError, __import__, "csi")
        assert msg == "no module named 'csi'", msg
    finally:
        _profile.use(None)
        sys.modules.pop("csi", None)


def test_keywords_checked_only_where_the_firmware_checks_them():
    spec = {"classes": {"CSI": {"make_new_kwargs": ["cid", "delays"],
                                "methods": {"a": {"kwargs": ["x"]},
                                            "b": {"kwargs": ["x"], "ignores_unknown_kwargs": True}}}}}
    assert _profile.kwargs(spec, "CSI", "make_new") == {"cid", "delays"}
    assert _profile.kwargs(spec, "CSI", "a") == {"x"}
    assert _profile.kwargs(spec, "CSI", "b") is None       # py_helper_keyword_*: unknown ignored
    assert _profile.kwargs({}, "CSI", "a") is None          # no profile: nothing refused
    assert _profile.refuse({"cid"}, ("cid", "stream")) == {"stream"}
    assert _profile.refuse(None, ("cid", "stream")) == set()


def test_facts_come_from_the_installed_profile():
    _profile.use({"firmware": [4, 7, 0], "layout": "split", "modules": {},
                  "facts": {"gmtime_overflow_from": {"value": 2147483648}}})
    try:
        assert _profile.fact("gmtime_overflow_from") == 2147483648
        assert _profile.fact("missing", 5) == 5
        assert _profile.top()["layout"] == "split"
    finally:
        _profile.use(None)
    assert _profile.fact("gmtime_overflow_from") is None   # without a board: no profile
