# rtspd.nativeguard: a camera that reset inside native code streams with the plain-Python path
# from the next start on, and says why; rtsp.native forces either path. The "reset" is a
# probe that never returns (what the firmware's HardFault loop amounts to).
from rtspd import fast, nativeguard as G
import storage
from fakes import Log, TempDir, exists


class Reset(BaseException):
    """The board reset: nothing after the faulting call runs."""


def _start(mode, folder, probe=None):
    """One start of the camera: (machine code in use?, log). probe: what fast.probe does."""
    log = Log()
    saved = fast.probe
    if probe is not None:
        fast.probe = probe
    try:
        return G.choose(mode, folder, storage, log), log
    finally:
        fast.probe = saved


def _fault():
    assert exists(_where[0] + "/" + G.MARKER), "native code ran before the marker was on flash"
    raise Reset()


_where = [None]


def test_reset_inside_native_code_means_plain_python_for_good():
    with TempDir("native") as d:
        _where[0] = d
        try:
            _start("auto", d, _fault)
            raise AssertionError("the probe should not have returned")
        except Reset:
            pass
        assert exists(d + "/" + G.MARKER)           # what the next start finds
        native, log = _start("auto", d, _fault)     # the probe must not run again
        assert not native and not fast.NATIVE
        assert "reset while running native code" in log.text()
        assert log.lines[0][0] == "error"
        assert not exists(d + "/" + G.MARKER) and exists(d + "/" + G.VERDICT)
        native, log = _start("auto", d, _fault)     # and every start after it
        assert not native and not fast.NATIVE
        assert log.lines[0][0] == "warning" and "reset while running native code" in log.text()
    fast.use(True)


def test_on_forces_native_code_despite_the_verdict():
    with TempDir("native") as d:
        storage.write_atomic(d + "/" + G.VERDICT, "earlier fault\n")
        native, log = _start("on", d)
        assert native and fast.NATIVE
        assert "despite" in log.text()
        assert not exists(d + "/" + G.MARKER)       # removed once the probe passed


def test_off_runs_no_native_code_and_writes_nothing():
    with TempDir("native") as d:
        native, log = _start("off", d, _fault)
        assert not native and not fast.NATIVE
        assert storage.entries_oldest_first(d) == []
    fast.use(True)


def test_auto_uses_native_code_after_a_good_probe_and_leaves_no_marker():
    with TempDir("native") as d:
        native, log = _start("auto", d)
        assert native and fast.NATIVE
        assert storage.entries_oldest_first(d) == []
        assert "native send path" in log.text()


def test_native_code_that_disagrees_is_not_used_and_is_retried_next_start():
    with TempDir("native") as d:
        native, log = _start("auto", d, lambda: False)
        assert not native and not fast.NATIVE
        assert "other results" in log.text()
        assert storage.entries_oldest_first(d) == []    # not a fault: no verdict
        native, _ = _start("auto", d)
        assert native
    fast.use(True)


class _ReadOnly:
    # storage helpers on a flash that refuses writes
    join = staticmethod(storage.join)
    exists = staticmethod(storage.exists)
    read_file = staticmethod(storage.read_file)
    remove_quiet = staticmethod(storage.remove_quiet)

    @staticmethod
    def write_atomic(path, data):
        raise OSError(30)


def test_no_marker_no_native_code():
    log = Log()
    saved = fast.probe
    fast.probe = _fault
    try:
        with TempDir("native") as d:
            assert not G.choose("auto", d, _ReadOnly, log)
            assert not G.choose("auto", None, storage, log)
    finally:
        fast.probe = saved
        fast.use(True)
    assert "marker" in log.text()
