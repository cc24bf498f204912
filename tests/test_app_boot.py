"""Starts every time: the real app on the emulator with real FAT images, faulty SD cards on
each firmware layout, broken configs, crashes, hangs, and a start from OpenMV IDE."""
import subprocess
import time

import av
import pytest

from tools.sim import storage

from . import appkit

av_errors = (av.error.FFmpegError, OSError, EOFError)
FAULTS = ["no_card", "unformatted", "read_errors", "write_errors", "read_only", "full",
          "bad_data", "removed"]


def _no_crash(board):
    text = "\n".join(board.console)
    assert "Traceback" not in text, text[-3000:]
    assert not any(k == "boot" and "watchdog" in t for _, k, t in board.events)


@pytest.mark.parametrize("fw", ["4.5", "4.8", "5.0"])
@pytest.mark.parametrize("fault", FAULTS)
def test_sd_fault_runs_from_flash_with_sd_error_pattern(tmp_path, fw, fault):
    at_boot = "none" if fault == "removed" else fault
    with appkit.app(tmp_path, firmware=fw, sd_fault=at_boot) as (b, url):
        if fault == "removed":
            b.sd.remove()
        assert appkit.wait_codes(b, 2, timeout=20), appkit.led_timeline(b)[-20:]
        assert len(appkit.decode_frames(url, 3)) == 3            # still streaming
        _no_crash(b)
    log = appkit.log_text(b, "flash")
    assert "card" in log and ("not used" in log or "failed" in log or "removed" in log), log
    fsck = subprocess.run([storage.tool("fsck.fat"), "-n", str(b.flash_image)],
                          capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


def test_healthy_card_keeps_stills_and_logs_and_stays_clean(tmp_path):
    changes = {"stills": {"interval_s": 1}}
    with appkit.app(tmp_path, changes) as (b, url):
        appkit.decode_frames(url, 10)
        time.sleep(6)              # info lines reach the file every 5 s (warnings at once)
        assert not appkit.blink_codes(b)
        n = len(b.console)
        b.power_cycle(lose_rtc=False)          # starts again with stills/ on the card
        assert appkit.decode_frames(appkit.stream_url(b, start=n), 3)
    stills = [n for n in storage.list_dir(b.sd_image, "/stills", recursive=True)
              if n.endswith(".jpg")]
    assert stills, storage.list_dir(b.sd_image, "/", recursive=True)
    assert "streaming at" in appkit.log_text(b, "sd")
    for image in (b.sd_image, b.flash_image):
        fsck = subprocess.run([storage.tool("fsck.fat"), "-n", str(image)], capture_output=True,
                              text=True)
        assert fsck.returncode == 0, fsck.stdout


SECRET = "hunter2-Wifi-Secret"


@pytest.mark.parametrize("broken,key", [
    ("{ this is not json", "config.json"),
    ('{"camera": {"quality": "high"}}', "camera.quality"),
    ('{"camera": {"quality": 250}}', "camera.quality"),
    ('{"camera": {"qualty": 50}}', "camera.qualty"),
    ('{"rtsp": {"password": "%s"}}' % SECRET, "wifi"),
    ('{"wifi": {"ssid": "x", "password": "%s"}, "rtsp": {"port": 99999}}' % SECRET, "rtsp.port"),
])
def test_broken_config_names_the_key_without_secrets(tmp_path, broken, key):
    with appkit.app(tmp_path, raw_config=broken, wait_url=False) as (b, _):
        line = b.wait_console("config.json", timeout=20)
        assert appkit.wait_codes(b, 3, timeout=20)
        time.sleep(1)
        out = "\n".join(b.console) + "\n".join(t for _, _, t in b.events)
        _no_crash(b)
    assert key in out, out[-2000:]
    assert SECRET not in out
    assert SECRET not in appkit.log_text(b, "sd")
    assert line


def _watch_until_the_camera_drops(url, limit_s=30):
    """Play until the camera goes away under the viewer (crash, reset), bounded in time."""
    deadline = time.monotonic() + limit_s
    try:
        with appkit.open_stream(url) as c:
            for _ in c.decode(video=0):
                if time.monotonic() > deadline:
                    raise AssertionError("the camera kept streaming")
    except av_errors:
        pass


def _crash_once(b, url, message):
    n = len(b.console)
    b.camera.inject_capture_errors(1, message, error="value")
    _watch_until_the_camera_drops(url)
    return n


def test_crash_writes_report_restarts_then_safe_mode(tmp_path):
    changes = {"recovery": {"safe_mode_after": 2, "backoff_s": 1, "backoff_max_s": 1}}
    with appkit.app(tmp_path, changes) as (b, url):
        n = _crash_once(b, url, "bus fault")
        b.wait_for(lambda k, t: k == "boot" and "#2" in t, timeout=20)
        b.wait_console("Stream URL:", start=n + 1, timeout=30)      # restarted and streaming
        _crash_once(b, url, "bus fault again")
        b.wait_for(lambda k, t: k == "boot" and "#3" in t, timeout=20)
        b.wait_console("SAFE MODE", timeout=20)
        time.sleep(1.5)
        tl = appkit.led_timeline(b)
    report = storage.read_file(b.sd_image, "crash.txt").decode()
    assert "bus fault again" in report and "ValueError" in report
    assert "bus fault" in storage.read_file(b.sd_image, "crash.1.txt").decode()
    assert {"red", "blue"} <= {c for _, cs in tl[-6:] for c in cs}      # the safe-mode pattern


def test_hang_is_ended_by_the_watchdog(tmp_path):
    changes = {"watchdog": {"enabled": True, "timeout_s": 5}}
    with appkit.app(tmp_path, changes) as (b, url):
        n = len(b.console)
        b.camera.inject_capture_errors(1, "stuck", delay=3600)
        _watch_until_the_camera_drops(url)
        b.wait_for(lambda k, t: k == "watchdog" and "starved" in t, timeout=20)
        b.wait_for(lambda k, t: k == "boot" and "watchdog" in t, timeout=10)
        b.wait_console("Stream URL:", start=n, timeout=30)
    assert "watchdog" in storage.read_file(b.sd_image, "crash.txt").decode()


@pytest.mark.parametrize("first_boot_py", [True, False])
def test_started_from_ide_finds_the_same_storage_decision(tmp_path, first_boot_py):
    # The card accepts writes but keeps old data: only the write/read-back check sees it.
    with appkit.app(tmp_path, sd_fault="bad_data", run_boot_py=first_boot_py) as (b, url):
        if first_boot_py:
            # boot.py decided at power-on; now main.py runs again without it (the IDE)
            b.opt.run_boot_py = False
            n = len(b.console)
            b.power_cycle(lose_rtc=False)
            url = appkit.stream_url(b, start=n)
        assert appkit.wait_codes(b, 2, timeout=20)
        assert len(appkit.decode_frames(url, 3)) == 3
        _no_crash(b)
    assert "not used" in appkit.log_text(b, "flash")


WRITER_MAIN = """
import storage
n = 0
while True:
    n += 1
    body = ("gen %06d " % n) * 3000           # 33 KB: many blocks, so a removal lands mid-write
    try:
        storage.write_atomic("/sdcard/data.txt", body)
    except OSError as e:
        print("RESULT2 stopped", e.errno)
        break
    print("RESULT wrote", n)
"""


@pytest.mark.parametrize("delay", [0.05, 0.23, 0.41])
def test_card_pulled_mid_write_leaves_old_or_no_file(tmp_path, delay):
    import shutil
    from tools import mpy
    from .simkit import make_app, results, running
    app = make_app(tmp_path / "app", main=WRITER_MAIN, boot=None)
    shutil.copy(mpy.LIB / "storage.py", app / "lib" / "storage.py")
    with running(app, tmp_path / "run", firmware="5.0") as b:
        results(b)                                   # a first complete file exists
        time.sleep(delay)
        b.sd.remove()
        assert results(b, "RESULT2").startswith("stopped")
        image = b.sd_image
    data = storage.read_file(image, "data.txt")
    if data is not None:
        text = data.decode()
        gen = text[:11]
        assert text == gen * 3000, "partial or mixed file: %r...%r" % (text[:40], text[-40:])
