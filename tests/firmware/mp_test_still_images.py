# stills: when a still is taken (interval, wake, request), what it is called and where it
# goes (real files through the real storage.Storage in a temporary folder), that the
# streamed JPEG bytes are saved unchanged, and that failing storage never raises.
import time
import appconfig
import storage
import still_images
from fakes import Ticks, Log, TempDir, tmpdir, rmtree, CameraTicks, GmtimeOverflow
from fakes import TICKS_PERIOD

T0 = time.mktime((2026, 11, 23, 15, 45, 1, 0, 0))


class Clock:
    def __init__(self):
        self.now = T0
        self.synced = True


def real_storage(root, log):
    cfg = appconfig.defaults()
    cfg["stills"]["min_free_mb"] = 1
    return storage.Storage({"card": root, "card_ok": True, "flash": None}, cfg, log)


def make(cfg, st, log=None):
    ticks = Ticks()
    clock = Clock()
    log = log or Log()
    s = still_images.Stills(cfg, log, st, synced=lambda: clock.synced, rtc_now=lambda: clock.now,
                      ticks_ms=ticks)
    return s, ticks, clock, log


def jpeg(n, tag):
    b = bytearray(n + 500)                     # a frame buffer is larger than its JPEG
    b[0:2] = b"\xff\xd8"
    for i in range(2, n - 2):
        b[i] = (i * 7 + tag) & 0xFF
    b[n - 2:n] = b"\xff\xd9"
    return b


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_interval_stills_are_the_streamed_jpeg_under_dated_names():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({"interval_s": 60}, real_storage(d, log), log)
        buf = jpeg(5000, 1)
        assert not s.offer(buf, 5000)
        saved = []
        for step in range(130):               # 130 s, a frame offered every second
            ticks.t += 1000
            clock.now += 1
            if s.offer(buf, 5000):
                saved.append((clock.now, s.last_name))
        assert len(saved) == 2
        for now, name in saved:
            t = time.gmtime(now)
            assert name == "stills/%04d-%02d-%02d/%04d%02d%02d-%02d%02d%02d.jpg" % (
                t[:3] + t[:6])
            assert read(d + "/" + name) == bytes(buf[:5000])     # unchanged, exact length
        assert saved[0][1] == "stills/2026-11-23/20261123-154601.jpg"


def test_same_second_gets_a_sortable_suffix():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({"min_gap_ms": 0}, real_storage(d, log), log)
        names = []
        for tag in range(3):
            assert s.save(jpeg(800, tag), 800)
            names.append(s.last_name)
        assert names[1:] == [names[0][:-4] + "_01.jpg", names[0][:-4] + "_02.jpg"]
        assert sorted(names) == names and len(set(names)) == 3
        for tag, name in enumerate(names):
            assert read(d + "/" + name) == bytes(jpeg(800, tag)[:800])


def test_unsynced_clock_goes_to_its_own_folder():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({}, real_storage(d, log), log)
        clock.synced = False
        clock.now = time.mktime((2013, 1, 1, 0, 3, 7, 0, 0))
        assert s.save(jpeg(600, 3), 600)
        assert s.last_name == "stills/unsynced/20130101-000307.jpg"


class FakeStorage:
    def __init__(self):
        self.files = {}
        self.fail_write = None        # None, "false" or an exception to raise
        self.room = True
        self.dir = "/sd/stills"
        self.state = "ok"

    def stills_dir(self):
        return self.dir

    def make_room(self, extra=0):
        if self.room == "eio":
            raise OSError(5)
        return self.room

    def path(self, name):
        return "/nonexistent-drive/" + name

    def write(self, name, data):
        if self.fail_write == "false":
            return False
        if self.fail_write is not None:
            raise self.fail_write
        self.files[name] = bytes(data)
        return True


def test_wake_and_request_triggers_with_a_minimum_gap():
    st = FakeStorage()
    s, ticks, clock, log = make({"min_gap_ms": 1000}, st)
    buf = jpeg(300, 9)
    assert not s.offer(buf, 300)               # nothing asked yet, no interval
    s.wake()
    assert s.offer(buf, 300) and len(st.files) == 1
    assert s.request()
    ticks.t += 500
    assert not s.offer(buf, 300)               # too soon after the last one
    ticks.t += 600
    clock.now += 1
    assert s.offer(buf, 300) and len(st.files) == 2
    ticks.t += 5000
    assert not s.offer(buf, 300)               # a request is taken once


def test_disabled_stills_take_nothing():
    st = FakeStorage()
    s, ticks, clock, log = make({"enabled": False, "interval_s": 10}, st)
    s.wake()
    assert not s.request()
    for _ in range(30):
        ticks.t += 1000
        assert not s.offer(jpeg(100, 0), 100)
    assert st.files == {}


def test_full_failing_or_missing_drive_returns_false_and_logs_once():
    buf = jpeg(400, 2)
    for fault in ("full", "write-false", "oserror", "eio-in-make-room", "no-drive"):
        st = FakeStorage()
        s, ticks, clock, log = make({"min_gap_ms": 0}, st)
        if fault == "full":
            st.room = False
            st.state = "full"
        elif fault == "write-false":
            st.fail_write = "false"
        elif fault == "oserror":
            st.fail_write = OSError(30)        # read-only card, if storage let it through
        elif fault == "eio-in-make-room":
            st.room = "eio"
        else:
            st.dir = None
        for _ in range(5):
            assert s.save(buf, 400) is False, fault
            clock.now += 1
        assert s.failed == 5 and s.saved == 0
        warnings = [l for l in log.lines if l[0] in ("warning", "error")]
        assert 1 <= len(warnings) <= 2, (fault, log.lines)
        # the drive comes back: saving resumes and says so
        st.__init__()
        assert s.save(buf, 400) is True
        assert any("saving again" in l[1] for l in log.lines)


def test_card_gone_with_real_storage_does_not_raise():
    d = tmpdir("stills")
    log = Log()
    st = real_storage(d, log)
    s, ticks, clock, log2 = make({}, st, log)
    rmtree(d)                                  # the card's filesystem is gone
    assert s.save(jpeg(500, 1), 500) is False
    assert s.save(jpeg(500, 1), 500) is False


def test_due_check_allocates_nothing():
    import gc
    import micropython
    s, ticks, clock, log = make({"interval_s": 3600}, FakeStorage())
    gc.collect()
    micropython.heap_lock()
    try:
        n = 0
        for _ in range(200):
            ticks.t += 33
            if s.due():
                n += 1
    finally:
        micropython.heap_unlock()
    assert n == 0


def test_rtc_past_2038_still_saves_without_calling_gmtime_on_it():
    # 4.5.0-4.7.x: gmtime() raises OverflowError from 2**31 (an RTC set from the REPL, say)
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({}, real_storage(d, log), log)
        clock.now = (1 << 31) + 60
        with GmtimeOverflow() as g:
            assert s.save(jpeg(600, 4), 600)
        assert g.refused == 0
        assert s.last_name.startswith("stills/unsynced/up-"), s.last_name
        assert read(d + "/" + s.last_name) == bytes(jpeg(600, 4)[:600])


def test_request_and_interval_after_a_week_without_stills():
    # the last still's tick time goes stale; past 6.2 days it reads as the future
    with CameraTicks():
        st = FakeStorage()
        s, ticks, clock, log = make({"min_gap_ms": 1000}, st)
        ticks.t = TICKS_PERIOD - 5000
        s.wake()
        assert s.offer(jpeg(300, 1), 300)
        for days in (3, 7, 11):
            ticks.t += days * 86400 * 1000
            clock.now += days * 86400
            assert s.request() and s.offer(jpeg(300, 2), 300), days
        s2, ticks2, clock2, log2 = make({"interval_s": 3600}, FakeStorage())
        ticks2.t = TICKS_PERIOD - 5000
        s2._due = ticks2()                    # due now ...
        ticks2.t += 7 * 86400 * 1000          # ... but no frame came for a week
        assert s2.due() and s2.offer(jpeg(300, 3), 300)
        assert not s2.due()
