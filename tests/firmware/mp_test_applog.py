# Logging: a capped, rotated log file on the active drive plus the console; flush works;
# a failing card moves the log to flash and says so; with no drive it is console only.
import io
import os
import vfs
import logging
from fakes import RamDisk, RTC, config, get, CameraTicks, TICKS_PERIOD
import storage
import applog

C = "/lgcard"
F = "/lgflash"


def setup(card_ok=True, cfg=None, card=None, flash=None):
    card = card or RamDisk(1024)
    flash = flash or RamDisk(512)
    for dev, where in ((card, C), (flash, F)):
        try:
            vfs.umount(where)
        except OSError:
            pass
        vfs.mount(vfs.VfsFat(dev), where)
    cfg = cfg or config()
    d = {"card_ok": card_ok, "card": C if card_ok else None, "flash": F, "reason": ""}
    store = storage.Storage(d, cfg)
    out = io.StringIO()
    log = applog.setup(cfg, store, stream=out)
    store.log = log
    return log, store, out, card, flash


def done():
    applog.close()
    for where in (C, F):
        try:
            vfs.umount(where)
        except OSError:
            pass


def test_lines_go_to_file_on_card_and_console():
    log, store, out, card, flash = setup()
    log.info("camera started %d", 1)
    logging.getLogger("wifi").warning("no network")
    applog.flush()
    text = get(C + "/logs/camera.log")
    assert "INFO camera: camera started 1" in text
    assert "WARNING wifi: no network" in text
    assert "camera started 1" in out.getvalue()
    assert applog.file_path() == C + "/logs/camera.log"
    done()


def test_level_filters_debug():
    log, store, out, card, flash = setup(cfg=config(logging={"level": "warning"}))
    log.info("chatty")
    log.error("bad")
    applog.flush()
    text = get(C + "/logs/camera.log")
    assert "bad" in text and "chatty" not in text and "chatty" not in out.getvalue()
    done()


def test_timestamps_are_dates_once_the_rtc_is_set():
    log, store, out, card, flash = setup()
    RTC.t = 1356998400                      # 2013: not set
    log.warning("before")
    RTC.t = 1750000000                      # 2025-06-15
    log.warning("after")
    lines = out.getvalue().splitlines()
    assert lines[-2].startswith("+") and "before" in lines[-2]
    assert lines[-1].startswith("2025-06-15 ") and "after" in lines[-1]
    RTC.t = 1356998400
    done()


def test_rotation_caps_size_and_keeps_the_newest():
    log, store, out, card, flash = setup(cfg=config(logging={"max_kb": 8, "files": 3,
                                                             "console": False}))
    for i in range(600):
        log.info("line %04d %s", i, "x" * 40)
    applog.flush()
    names = sorted(os.listdir(C + "/logs"))
    assert names == ["camera.log", "camera.log.1", "camera.log.2"], names
    for n in names:
        assert os.stat(C + "/logs/" + n)[6] <= 8 * 1024
    assert "line 0599" in get(C + "/logs/camera.log")
    assert "line 0000" not in "".join(get(C + "/logs/" + n) for n in names)   # oldest gone
    done()


def test_warnings_reach_the_drive_at_once_info_after_flush():
    log, store, out, card, flash = setup()
    log.warning("w1")
    assert "w1" in get(C + "/logs/camera.log")
    log.info("i1")
    applog.flush()              # as before deep sleep or reset
    assert "i1" in get(C + "/logs/camera.log")
    done()


def test_failing_card_moves_the_log_to_flash_and_says_so():
    log, store, out, card, flash = setup()
    log.warning("on card")
    card.fault = "write"
    log.warning("lost line")            # the card fails here
    log.warning("after the failure")
    assert "console only" in out.getvalue()
    assert "SD card not usable" in out.getvalue()
    assert store.root == F and applog.file_path() == F + "/logs/camera.log"
    moved = get(F + "/logs/camera.log")
    assert "after the failure" in moved
    assert "card failed while running" in moved        # the reason travels with the log
    done()


def test_no_drive_means_console_only_and_a_note():
    log, store, out, card, flash = setup(card_ok=False, cfg=config(storage={"fallback": "off"}))
    log.warning("still visible")
    assert applog.file_path() is None
    assert "no log file" in out.getvalue() and "still visible" in out.getvalue()
    done()


def test_close_then_logging_keeps_working_on_console():
    log, store, out, card, flash = setup()
    log.info("before sleep")
    applog.close()
    assert "before sleep" in get(C + "/logs/camera.log")
    log.warning("after close")
    assert "after close" in out.getvalue()
    assert "after close" not in get(C + "/logs/camera.log")
    done()


def test_flash_log_has_the_tight_cap():
    log, store, out, card, flash = setup(card_ok=False, cfg=config(
        storage={"flash_log_kb": 16}, logging={"console": False}))
    for i in range(800):
        log.info("flash line %04d %s", i, "y" * 40)
    applog.flush()
    total = sum(os.stat(F + "/logs/" + n)[6] for n in os.listdir(F + "/logs"))
    assert total <= 16 * 1024, total
    done()


WEEK = 7 * 86400 * 1000


def test_info_after_a_week_of_silence_is_written_soon():
    # the last flush's tick time goes stale; past 6.2 days it reads as the future on the
    # camera's wrapped counter, and info lines must not wait days in the buffer
    import time
    with CameraTicks():
        log, store, out, card, flash = setup()
        log.warning("w1")
        applog._file._last_flush = (time.ticks_ms() - WEEK) & (TICKS_PERIOD - 1)
        log.info("after a quiet week")
        assert "after a quiet week" in get(C + "/logs/camera.log")
        log.info("i2")                  # just flushed: this one may wait a few seconds
        applog.tick(time.ticks_add(time.ticks_ms(), 1000))
        assert "i2" not in get(C + "/logs/camera.log")
        applog._file._last_flush = (time.ticks_ms() - WEEK) & (TICKS_PERIOD - 1)
        applog.tick(time.ticks_ms())
        assert "i2" in get(C + "/logs/camera.log")
        done()
