# Crash safety: a crash leaves a report with its traceback and a reset after a growing
# back-off; crashes in a row end in safe mode; a run that ended without a planned reset or
# sleep counts as a hang whatever the (sticky) reset cause says, a power cut does not; the
# watchdog is fed while waiting; a stable run or a clean sleep ends the series.
import vfs
from fakes import RamDisk, FakeWdt, FakeMachine, Reset, ListLog, config, get, put
from fakes import CameraTicks, TICKS_PERIOD, _ticks_add, _ticks_diff
import storage
import crashguard

C = "/crcard"
F = "/crflash"


class Clock:
    """Virtual time for crashguard's waits (back-off, safe mode): tests take no real time.
    The tick counter wraps at 2**30 as on the camera; `step` makes every sleep last at
    least that long (a week of safe mode in a few thousand loop passes); past `limit` the
    test has waited too long."""
    now = 0
    step = 0
    limit = None

    @staticmethod
    def ticks_ms():
        return Clock.now & (TICKS_PERIOD - 1)

    ticks_add = staticmethod(_ticks_add)
    ticks_diff = staticmethod(_ticks_diff)

    @staticmethod
    def sleep_ms(ms):
        Clock.now += max(ms, Clock.step)
        if Clock.limit is not None and Clock.now > Clock.limit:
            raise AssertionError("still waiting after the time the test allows")


crashguard.time = Clock


def drives(card_ok=True, cfg=None, flash=None):
    for where in (C, F):
        try:
            vfs.umount(where)
        except OSError:
            pass
    vfs.mount(vfs.VfsFat(RamDisk(512)), C)
    flash = flash or RamDisk(256)
    vfs.mount(vfs.VfsFat(flash), F)
    cfg = cfg or config()
    d = {"card_ok": card_ok, "card": C if card_ok else None, "flash": F, "reason": ""}
    return storage.Storage(d, cfg), cfg, flash


def guard(store, cfg, cause=1, log=None):
    wdt = crashguard.Watchdog(cfg, FakeWdt)
    wdt.start()
    g = crashguard.CrashGuard(cfg, F, store, log, FakeMachine(cause), wdt)
    return g


def camera_loop_that_fails():
    raise ValueError("sensor said no")


def crash_once(store, cfg, cause=1):
    g = guard(store, cfg, cause)
    g.begin()
    try:
        g.run(camera_loop_that_fails)
    except Reset:
        return g
    raise AssertionError("no reset after a crash")


def test_crash_writes_report_with_traceback_and_resets():
    store, cfg, _ = drives()
    g = crash_once(store, cfg)
    report = get(C + "/crash.txt")
    assert "camera_loop_that_fails" in report and "ValueError: sensor said no" in report
    assert "crash 1 in a row" in report
    assert g.machine.resets == 1
    assert g.wdt._wdt.feeds > 0             # fed during the back-off: no watchdog bite


def test_backoff_doubles_up_to_the_limit():
    store, cfg, _ = drives(cfg=config(recovery={"backoff_s": 5, "backoff_max_s": 30,
                                                "safe_mode_after": 20}))
    waits = []
    for i in range(6):
        t0 = Clock.now
        crash_once(store, cfg)
        waits.append((Clock.now - t0) // 1000)
    assert waits == [5, 10, 20, 30, 30, 30], waits


def test_crashes_in_a_row_end_in_safe_mode_with_reports_kept():
    store, cfg, _ = drives(cfg=config(recovery={"safe_mode_after": 3}))
    for _ in range(3):
        assert not guard(store, cfg, cause=5).begin()
        try:
            guard(store, cfg, cause=5).run(camera_loop_that_fails)
        except Reset:
            pass
    g = guard(store, cfg, cause=5)
    assert g.begin() and g.safe_mode
    assert "crash 3 in a row" in get(C + "/crash.txt")
    assert "crash 2 in a row" in get(C + "/crash.1.txt")       # the one before is kept


def test_safe_mode_shows_its_pattern_feeds_the_watchdog_and_retries_later():
    import status_led
    from fakes import FakeLed
    store, cfg, _ = drives(cfg=config(recovery={"safe_mode_after": 2,
                                                "safe_mode_retry_min": 10}))
    for _ in range(2):
        crash_once(store, cfg)
    g = guard(store, cfg)
    assert g.begin()
    led = status_led.StatusLed((FakeLed(), FakeLed(), FakeLed()))
    t0 = Clock.now
    try:
        g.safe_loop(led)
    except Reset:
        pass
    assert led.state == status_led.SAFE_MODE
    assert Clock.now - t0 >= 10 * 60000
    assert g.wdt._wdt.feeds >= 10 * 60000 // cfg["watchdog"]["timeout_s"] // 1000
    # one more try: the next start is not in safe mode, but one more crash brings it back
    g2 = guard(store, cfg)
    assert not g2.begin()
    crash_once(store, cfg)
    assert guard(store, cfg).begin()


def test_power_cycle_in_safe_mode_gives_one_more_try():
    store, cfg, _ = drives(cfg=config(recovery={"safe_mode_after": 2}))
    for _ in range(2):
        crash_once(store, cfg)
    assert guard(store, cfg, cause=5).begin()          # safe mode (a soft reset: stays)
    assert guard(store, cfg, cause=5).begin()
    g = guard(store, cfg, cause=1)                     # unplugged and plugged in again
    assert not g.begin() and g.count == 1
    crash_once(store, cfg)                             # still broken: straight back
    assert guard(store, cfg, cause=5).begin()


DEEPSLEEP_RESET = 4        # reset_cause() after a wake and after every later reset, until power-off


def test_watchdog_reset_counts_as_a_hang():
    store, cfg, _ = drives()
    guard(store, cfg).begin()                         # the app ran ...
    g = guard(store, cfg, cause=crashguard.WDT_RESET)  # ... and the watchdog ended it
    g.begin()
    assert g.count == 1
    assert "watchdog" in get(C + "/crash.txt") and "hung" in get(C + "/crash.txt")


def test_hang_after_a_deep_sleep_is_counted_though_the_cause_reads_4_forever():
    store, cfg, _ = drives(cfg=config(recovery={"safe_mode_after": 5}))
    g = guard(store, cfg)
    g.begin()
    g.clean_exit()                                    # then deep sleep (marker written)
    g = guard(store, cfg, cause=DEEPSLEEP_RESET)
    assert not g.begin(slept=True) and g.count == 0 and g.hang is None     # the wake
    # the main loop hangs; the watchdog resets the board: the cause still reads 4
    g = guard(store, cfg, cause=DEEPSLEEP_RESET)
    g.begin()
    assert g.count == 1 and "hung" in g.hang and "(reset cause 4)" in g.hang
    assert "watchdog" in get(C + "/crash.txt")
    g = guard(store, cfg, cause=DEEPSLEEP_RESET)       # and again
    g.begin()
    assert g.count == 2
    # our own reset after a crash is no hang, whatever the cause says
    try:
        g.run(camera_loop_that_fails)
    except Reset:
        pass
    g = guard(store, cfg, cause=DEEPSLEEP_RESET)
    g.begin()
    assert g.count == 3 and g.hang is None and "ValueError" in get(C + "/crash.txt")


def test_power_cut_while_running_is_not_a_hang():
    store, cfg, _ = drives()
    guard(store, cfg).begin()
    g = guard(store, cfg, cause=crashguard.PWRON_RESET)
    assert not g.begin() and g.count == 0 and g.hang is None
    assert not storage.exists(C + "/crash.txt")


def test_watchdog_after_a_stop_from_the_ide_is_not_a_hang():
    # the watchdog cannot be stopped: after Ctrl-C it bites, the user was not hung
    store, cfg, _ = drives()
    g = guard(store, cfg)
    g.begin()

    def stop():
        raise KeyboardInterrupt()
    try:
        g.run(stop)
    except KeyboardInterrupt:
        pass
    g = guard(store, cfg, cause=crashguard.WDT_RESET)
    g.begin()
    assert g.count == 0 and g.hang is None


def test_safe_mode_retry_after_a_week_survives_the_tick_wrap():
    # 7 days is longer than ticks_diff() can measure (6.2 days); the counter also wraps
    store, cfg, _ = drives(cfg=config(recovery={"safe_mode_after": 2,
                                                "safe_mode_retry_min": 7 * 24 * 60}))
    for _ in range(2):
        crash_once(store, cfg)
    g = guard(store, cfg)
    assert g.begin()
    Clock.now = TICKS_PERIOD - 30000             # 30 s before the wrap
    t0 = Clock.now
    Clock.step = 60000
    Clock.limit = t0 + 8 * 86400 * 1000
    try:
        with CameraTicks():
            g.safe_loop()
        raise AssertionError("safe_loop returned")
    except Reset:
        pass
    finally:
        Clock.step = 0
        Clock.limit = None
    waited = Clock.now - t0
    assert 7 * 86400 * 1000 <= waited <= 7 * 86400 * 1000 + 120000, waited
    assert not guard(store, cfg).begin()         # one more try


def test_our_own_reset_is_not_taken_for_a_hang():
    store, cfg, _ = drives()
    crash_once(store, cfg)
    # the RT1062 may report its software reset as a watchdog reset: it was ours
    g = guard(store, cfg, cause=crashguard.WDT_RESET)
    g.begin()
    assert g.count == 1 and "ValueError" in get(C + "/crash.txt")


def test_stable_running_and_clean_sleep_end_the_series():
    store, cfg, flash = drives()
    crash_once(store, cfg)
    g = guard(store, cfg)
    g.begin()
    assert g.count == 1
    g.stable(g._start + 10000)
    assert g.count == 1
    g.stable(g._start + cfg["recovery"]["stable_after_s"] * 1000)
    assert g.count == 0 and guard(store, cfg).count == 0
    crash_once(store, cfg)
    g = guard(store, cfg)
    g.clean_exit()
    assert guard(store, cfg).count == 0


def test_count_is_on_flash_and_written_only_on_change():
    store, cfg, flash = drives()
    guard(store, cfg).begin()                 # the first start marks the app running
    g = guard(store, cfg, cause=DEEPSLEEP_RESET)
    writes = flash.writes
    g.begin(slept=True)                       # every later start and sleep: no write
    g.stable(g._start + 10 ** 7)
    g.clean_exit()
    assert flash.writes == writes             # nothing happened: the flash is not touched
    crash_once(store, cfg)
    assert storage.exists(F + "/" + crashguard.STATE_FILE)


def test_report_goes_to_flash_when_there_is_no_data_drive():
    store, cfg, _ = drives(card_ok=False, cfg=config(storage={"fallback": "off"}))
    crash_once(store, cfg)
    assert "ValueError" in get(F + "/crash.txt")


def test_damaged_state_file_starts_over():
    store, cfg, _ = drives()
    put(F + "/" + crashguard.STATE_FILE, "{not json")
    g = guard(store, cfg)
    assert not g.begin() and g.count == 0


def test_ctrl_c_is_not_a_crash():
    store, cfg, _ = drives()
    g = guard(store, cfg)

    def stop():
        raise KeyboardInterrupt()

    try:
        g.run(stop)
        raise AssertionError("KeyboardInterrupt swallowed")
    except KeyboardInterrupt:
        pass
    assert g.count == 0 and not storage.exists(C + "/crash.txt")
    g = guard(store, cfg, cause=5)          # then reset from the REPL: no hang either
    assert not g.begin() and g.count == 0


def test_watchdog_wrapper_follows_config():
    FakeWdt.made = []
    w = crashguard.Watchdog(config(watchdog={"enabled": False}), FakeWdt)
    w.start()
    w.feed()
    assert FakeWdt.made == []
    w = crashguard.Watchdog(config(watchdog={"enabled": True, "timeout_s": 8}), FakeWdt)
    w.start()
    w.start()                                   # once only: a WDT cannot be re-armed
    w.feed()
    assert len(FakeWdt.made) == 1 and FakeWdt.made[0].timeout == 8000
    assert FakeWdt.made[0].feeds == 1


def test_crash_is_logged_without_breaking_when_the_log_is_a_list():
    store, cfg, _ = drives()
    log = ListLog()
    g = guard(store, cfg, log=log)
    try:
        g.run(camera_loop_that_fails)
    except Reset:
        pass
    assert "sensor said no" in log.text() and "restarting in" in log.text()
