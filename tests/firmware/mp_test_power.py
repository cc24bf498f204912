# power: wake marker (real files), sleep policy (grace period, awake windows, disabled),
# and the sleep sequence: cleanups in order, marker, machine.deepsleep(ms).
import power
from fakes import Ticks, Log, FakeMachine, Halt, TempDir, exists

PWRON_RESET, WDT_RESET, SOFT_RESET = 1, 3, 5


CFG = {"deep_sleep": True, "grace_period_s": 30, "awake_window_s": 60, "sleep_duration_s": 600}


def make(d, cfg=CFG, cause=PWRON_RESET, rtc=1795000000):
    ticks = Ticks()
    m = FakeMachine(cause, marker=d + "/wake.marker")
    p = power.Power(cfg, Log(), machine=m, marker_path=d + "/wake.marker", ticks_ms=ticks,
                    rtc_now=lambda: rtc)
    return p, m, ticks


def advance(p, ticks, ms, step=100):
    end = ticks.t + ms
    while ticks.t < end:
        if p.due():
            return ticks.t
        ticks.t += step
    return None


def test_sleep_writes_marker_and_next_boot_reports_a_wake():
    with TempDir("power") as d:
        p, m, ticks = make(d)
        assert not p.woke
        order = []
        p.add_cleanup(lambda: order.append("wifi"))
        p.add_cleanup(lambda: order.append("files"))
        p.add_cleanup(lambda: order.append("log"))
        try:
            p.sleep()
            raise AssertionError("sleep() returned although deepsleep() halts")
        except Halt:
            pass
        assert order == ["wifi", "files", "log"]
        assert m.slept[0][0] == 600000 and "slept_at=1795000000" in m.slept[0][1]
        # the wake: the firmware says PWRON_RESET; the marker says it was a wake
        p2, m2, ticks2 = make(d, rtc=1795000600)
        assert p2.woke and p2.slept_at == 1795000000
        assert not exists(d + "/wake.marker")     # read once: the next power-on is cold
        p3, m3, ticks3 = make(d)
        assert not p3.woke


DEEPSLEEP_RESET = 4     # what reset_cause() returns after a wake, and after every later reset


def put_marker(d, slept_at=1795000000, sleep_ms=600000):
    with open(d + "/wake.marker", "w") as f:
        f.write("slept_at=%d sleep_ms=%d\n" % (slept_at, sleep_ms))


def test_wake_is_told_by_the_rtc_whatever_the_sticky_reset_cause_says():
    # reset_cause() reads 4 from the first wake until power is removed: it says nothing
    with TempDir("power") as d:
        for cause in (DEEPSLEEP_RESET, PWRON_RESET, WDT_RESET, SOFT_RESET):
            put_marker(d)
            p, m, ticks = make(d, cause=cause, rtc=1795000000 + 600 + 4)    # timer wake
            assert p.woke and p.slept_at == 1795000000 and p.marker_found, cause
            assert "woke from deep sleep" in p._log.text()
            # the next start (a watchdog or soft reset: still cause 4) is no wake
            p, m, ticks = make(d, cause=cause, rtc=1795000700)
            assert not p.woke and not p.marker_found, cause


def test_p11_wake_any_time_before_the_timer():
    with TempDir("power") as d:
        put_marker(d)
        p, m, ticks = make(d, cause=DEEPSLEEP_RESET, rtc=1795000000 + 37)
        assert p.woke
        put_marker(d, sleep_ms=0)               # P11 only: no upper bound
        p, m, ticks = make(d, cause=DEEPSLEEP_RESET, rtc=1795000000 + 30 * 86400)
        assert p.woke


def test_stale_marker_or_lost_rtc_is_not_a_wake():
    with TempDir("power") as d:
        # the marker's wake was due an hour ago: left by a sleep that ended long before
        put_marker(d)
        p, m, ticks = make(d, cause=DEEPSLEEP_RESET, rtc=1795000000 + 600 + 3600)
        assert not p.woke and p.marker_found and "planned wake" in p._log.text()
        # the RTC restarted from 2013: the power was cut during the sleep
        put_marker(d)
        p, m, ticks = make(d, cause=DEEPSLEEP_RESET, rtc=1356998400 + 20)
        assert not p.woke and "power was lost" in p._log.text()
        # a damaged marker
        with open(d + "/wake.marker", "w") as f:
            f.write("slept_at=garbage")
        p, m, ticks = make(d, cause=DEEPSLEEP_RESET)
        assert not p.woke and not exists(d + "/wake.marker")


def test_grace_period_after_last_viewer():
    with TempDir("power") as d:
        p, m, ticks = make(d)
        p.viewers(1)
        assert advance(p, ticks, 600000) is None          # watched: never due
        p.viewers(2)
        p.viewers(1)
        assert advance(p, ticks, 60000) is None
        t0 = ticks.t
        p.viewers(0)
        t = advance(p, ticks, 60000)
        assert t is not None and 30000 <= t - t0 <= 30100
        # a viewer coming back cancels it
        p.viewers(1)
        assert not p.due() and p.remaining_ms() is None


def test_awake_window_after_wake_and_after_cold_boot():
    with TempDir("power") as d:
        with open(d + "/wake.marker", "w") as f:
            f.write("slept_at=1795000000 sleep_ms=600000\n")
        p, m, ticks = make(d)
        assert p.woke
        t = advance(p, ticks, 600000)
        assert t is not None and 60000 <= t <= 60100
        p, m, ticks = make(d, cfg=dict(CFG, boot_window_s=300))
        assert not p.woke
        t = advance(p, ticks, 600000)
        assert t is not None and 300000 <= t <= 300100
        # boot_window_s 0: a cold-booted camera waits for its first viewer
        p, m, ticks = make(d, cfg=dict(CFG, boot_window_s=0))
        assert advance(p, ticks, 3600000, step=1000) is None


def test_disabled_never_sleeps():
    with TempDir("power") as d:
        p, m, ticks = make(d, cfg=dict(CFG, deep_sleep=False))
        p.viewers(1)
        p.viewers(0)
        assert advance(p, ticks, 3600000, step=1000) is None


def test_keep_awake_postpones_sleep():
    with TempDir("power") as d:
        p, m, ticks = make(d)
        ticks.t = 59000
        p.keep_awake(10000)
        t = advance(p, ticks, 600000)
        assert t is not None and 69000 <= t <= 69100


def test_failing_cleanup_does_not_stop_the_sleep():
    with TempDir("power") as d:
        p, m, ticks = make(d)
        ran = []

        def bad():
            raise OSError(5)
        p.add_cleanup(bad)
        p.add_cleanup(lambda: ran.append("log"))
        try:
            p.sleep()
        except Halt:
            pass
        assert ran == ["log"] and len(m.slept) == 1


def test_failed_deepsleep_returns_and_removes_the_marker():
    with TempDir("power") as d:
        p, m, ticks = make(d)
        m.halt = False                    # deepsleep() returned (or raised): no sleep
        assert p.sleep() is False
        assert len(m.slept) == 1 and not exists(d + "/wake.marker")
        assert not p.due()                # not at once again: another grace period first


def test_zero_duration_means_wake_on_p11_only():
    with TempDir("power") as d:
        p, m, ticks = make(d, cfg=dict(CFG, sleep_duration_s=0))
        try:
            p.sleep()
        except Halt:
            pass
        assert m.slept[0][0] == 0


def test_due_check_allocates_nothing():
    import gc
    import micropython
    with TempDir("power") as d:
        p, m, ticks = make(d)
        p.viewers(1)
        p.viewers(0)
        gc.collect()
        micropython.heap_lock()
        try:
            n = 0
            for _ in range(200):
                ticks.t += 10
                if p.due():
                    n += 1
        finally:
            micropython.heap_unlock()
        assert n == 0
