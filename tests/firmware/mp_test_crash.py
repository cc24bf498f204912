# Crash safety: a crash leaves a report with its traceback and a reset after a growing
# back-off; crashes in a row end in safe mode; a watchdog reset counts as a hang; the watchdog
# is fed while waiting; a stable run or a clean sleep ends the series.
import vfs
from fakes import RamDisk, FakeWdt, FakeMachine, Reset, ListLog, config, get, put
import storage
import crashguard

C = "/crcard"
F = "/crflash"


class Clock:
    """Virtual time for crashguard's waits (back-off, safe mode): tests take no real time."""
    now = 0

    @staticmethod
    def ticks_ms():
        return Clock.now

    @staticmethod
    def ticks_add(a, b):
        return a + b

    @staticmethod
    def ticks_diff(a, b):
        return a - b

    @staticmethod
    def sleep_ms(ms):
        Clock.now += ms


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


def test_watchdog_reset_counts_as_a_hang():
    store, cfg, _ = drives()
    g = guard(store, cfg, cause=crashguard.WDT_RESET)
    g.begin()
    assert g.count == 1
    assert "watchdog" in get(C + "/crash.txt") and "hung" in get(C + "/crash.txt")


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
    g = guard(store, cfg)
    writes = flash.writes
    g.begin()
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
