"""The real app on every firmware profile (tools/sim/profiles): it streams in both capture
modes with the camera API each firmware has, sleeps and wakes with the sticky reset cause 4
and still counts a hang after a wake, rejects a 2020 NTP answer on 4.7 (where gmtime() would
overflow), and carries on across the 2**30 ms tick wrap."""
import io
import time
from datetime import datetime, timezone

import av
import pytest
from PIL import Image

from tools import probe
from tools.sim import profiles, storage
from tools.sim.board import RTC_LOST

from . import appkit
from .ntpkit import HostileNtp

# 4.5.0-4.5.5 give Python one ~280 KB heap (no SDRAM heap): the app streams in lean mode there
# (lib/ipcam.py, lib/fbslots.py: rtspd's buffers in frame-buffer memory, no web server)
SMALL_HEAP = [v for v in profiles.names() if tuple(map(int, v.split("."))) < (4, 5, 6)]
STREAMING = profiles.names()
TICKS_PERIOD = 1 << 30


def _no_traceback(board):
    text = "\n".join(board.console)
    assert "Traceback" not in text, text[-3000:]


def _api(fw):
    return "csi" if tuple(map(int, fw.split("."))) >= (4, 8, 0) else "sensor"


@pytest.fixture
def good_ntp():
    ntp = HostileNtp("good")        # syncs at once: no boot waits for an NTP timeout
    yield ntp
    ntp.close()


@pytest.mark.parametrize("mode", ["hardware_jpeg", "overlay"])
@pytest.mark.parametrize("fw", STREAMING)
def test_streams_on_every_firmware(tmp_path, fw, mode, good_ntp):
    changes = {"camera": {"mode": mode, "quality": 70}}
    with appkit.app(tmp_path, changes, firmware=fw, ntp_port=good_ntp.port) as (b, url):
        got = appkit.decode_frames(url, 3)
        encoded = b.camera.frames_of("to_jpeg")
        _no_traceback(b)
        console = "\n".join(b.console)
    assert len(got) == 3 and got[-1].shape == (720, 1280, 3)
    # the camera API the firmware has: CSI objects from 4.8, the legacy sensor module before
    assert "camera: %s API, 1280x720 %s" % (_api(fw), mode) in console, console[-2000:]
    # the mode follows the free heap: lean exactly where the firmware has the small one
    assert ("lean mode:" in console) == (fw in SMALL_HEAP), console[-2000:]
    if mode == "overlay":
        # a CPU JPEG an RTP/JPEG viewer can take: 4:2:2 (never the 4:4:4 AUTO picks at 70)
        assert Image.open(io.BytesIO(encoded[-1].data)).layer[0][1:3] == (2, 1)


def test_small_heap_streams_lean_and_logs_why_the_web_server_is_off(tmp_path, good_ntp):
    fw = SMALL_HEAP[0]
    with appkit.app(tmp_path, firmware=fw, ntp_port=good_ntp.port) as (b, url):
        got = appkit.decode_frames(url, 5)
        _no_traceback(b)
    log = appkit.log_text(b, "sd")
    assert len(got) == 5
    assert "lean mode: firmware %s leaves the app" % fw in log
    assert "web server off in lean mode" in log
    assert "not streaming" not in log


def _tiny_heap_profile(kb):
    p = profiles.load(SMALL_HEAP[0])
    p["facts"]["gc_heap_regions"] = dict(p["facts"]["gc_heap_regions"], value=[["DTCM", kb * 1024]])
    return p


def test_a_heap_too_small_even_for_the_lean_mode_says_why_it_does_not_stream(tmp_path):
    # a made-up firmware with a 150 KB heap: the app cannot hold even the lean loop there
    with appkit.app(tmp_path, profile=_tiny_heap_profile(150), wait_url=False) as (b, _):
        line = b.wait_console("not streaming", timeout=20)
        time.sleep(1.5)
        tl = appkit.led_timeline(b)
        _no_traceback(b)
    assert "update the firmware" in line and "KB of RAM" in line
    assert {"red", "blue"} <= {c for _, cs in tl[-6:] for c in cs}      # the safe-mode pattern
    assert "not streaming" in appkit.log_text(b, "sd")


def _watch_until_the_camera_drops(url, hang, ready, limit_s=30):
    """Watch 3 frames, and on until ready() (the on-wake still is on the card: in
    hardware_jpeg it is taken a few frames later, at stills.quality), then make the next
    capture hang, and watch on until the camera goes away (bounded)."""
    deadline = time.monotonic() + limit_s
    seen = 0
    hung = False
    try:
        with appkit.open_stream(url) as c:
            for _ in c.decode(video=0):
                seen += 1
                if seen >= 3 and not hung and ready():
                    hang.inject_capture_errors(1, "stuck", delay=3600)
                    hung = True
                if time.monotonic() > deadline:
                    raise AssertionError("the camera kept streaming (hung: %s)" % hung)
    except (av.error.FFmpegError, OSError, EOFError):
        pass
    assert seen >= 3, seen


def _stills(b):
    return [s for s in storage.list_dir(b.sd_image, "/stills", recursive=True)
            if s.endswith(".jpg")]


def _wait_boot(b, n, timeout):
    return b.wait_for(lambda k, t: k == "boot" and t.startswith("#%d," % n), timeout=timeout)


AWAKE_S = 5           # the shortest awake window config.json takes


def _wake(b, n, start):
    """Boot #n is a deep-sleep wake the app recognises: -> (its event index, the stream URL)."""
    i = _wait_boot(b, n, timeout=20)
    assert "deep-sleep wake" in b.events[i][2], b.events[i]
    url = appkit.stream_url(b, start=start)
    b.wait_console("woke from deep sleep", start=start, timeout=5)
    return i, url


@pytest.mark.long
@pytest.mark.parametrize("fw", STREAMING)
def test_deep_sleep_wake_and_a_hang_after_it_on_every_firmware(tmp_path, fw, good_ntp):
    # reset_cause() reads 4 from the wake on, whatever resets the board next: the wake is told
    # by the wake marker against the RTC, the hang by the crash state's "running" flag.
    # Asleep, awake, asleep again when nobody came within the awake window, awake, watched,
    # hung: the watchdog resets it, and that start is no wake.
    changes = {"power": {"deep_sleep": True, "grace_period_s": 2, "sleep_duration_s": 600,
                         "awake_window_s": AWAKE_S},
               "watchdog": {"enabled": True, "timeout_s": 5}}
    with appkit.app(tmp_path, changes, firmware=fw, ntp_port=good_ntp.port,
                    time_scale=0.005) as (b, url):
        n = len(b.console)
        b.wait_for(lambda k, t: k == "sleep", timeout=20)        # nobody came: asleep
        i, _ = _wake(b, 2, start=n)
        asleep = b.wait_for(lambda k, t: k == "sleep", start=i, timeout=20 + AWAKE_S)
        awake_s = b.events[asleep][0] - b.events[i][0]              # still nobody: asleep again
        n = len(b.console)
        _, url = _wake(b, 3, start=n)
        n = len(b.console)
        _watch_until_the_camera_drops(url, hang=b.camera,       # 3 frames and a still: hang
                                      ready=lambda: len(_stills(b)) == 2)
        j = _wait_boot(b, 4, timeout=30)
        b.wait_console("Stream URL:", start=n, timeout=30)
        fourth = b.events[j][2]
        stills = _stills(b)
        report = (storage.read_file(b.sd_image, "crash.txt") or b"").decode()
        _no_traceback(b)
        console = "\n".join(b.console)
    assert AWAKE_S <= awake_s < AWAKE_S + 20, awake_s           # the awake window, after a wake
    assert any(k == "watchdog" and "starved" in t for _, k, t in b.events)
    assert "watchdog" in fourth and "reads 4" in fourth, fourth  # sticky: 4 after the wakes
    assert "hung" in report and "reset cause 4" in report, report
    # the reset after the hang is no wake (info lines of the hung run never reached the file)
    assert console.count("woke from deep sleep") == 2, console[-3000:]
    log = appkit.log_text(b, "sd")
    assert len(stills) == 2, (stills, log[-3000:])      # on-wake still: one a wake, unwatched too
    assert "going to deep sleep for 600 s" in appkit.log_text(b, "sd")


def test_ntp_answer_from_2020_on_47_neither_crashes_nor_sets_the_clock(tmp_path):
    # 4.7's gmtime() overflows from 2**31 (its ntptime would read a pre-2024 answer as
    # ~2156); the app's own NTP client reads 2020 and refuses it before any gmtime()
    back = datetime(2020, 6, 1, tzinfo=timezone.utc).timestamp() - time.time()
    ntp = HostileNtp("offset:%d" % back)
    try:
        changes = {"camera": {"mode": "overlay"}}
        with appkit.app(tmp_path, changes, firmware="4.7", ntp_port=ntp.port) as (b, url):
            line = b.wait_console("implausible year", timeout=20)
            assert len(appkit.decode_frames(url, 3)) == 3
            _no_traceback(b)
            assert not any(k == "rtc" for _, k, _ in b.events)
            assert b.rtc_now() < RTC_LOST + 3600
    finally:
        ntp.close()
    assert ntp.queries >= 1 and "implausible year 2020" in line, line


@pytest.mark.long
def test_streaming_timers_and_ntp_carry_on_across_the_tick_wrap(tmp_path):
    # The tick counter starts 60 s before it wraps at 2**30 ms (what a camera reaches after
    # 12.4 days). The NTP server refuses at boot and at the retries 10 and 30 s later, so the
    # retry due 40 s after that is scheduled before the wrap and runs after it; health lines
    # (every 20 s) and stills (every 5 s) keep their intervals; a viewer that starts 40 s in
    # plays across the wrap. The camera streams only then: 60 s of streaming would cost the
    # suite a core for a minute.
    ntp = HostileNtp("kod")
    changes = {"stills": {"interval_s": 5}, "logging": {"health_s": 20}}
    try:
        with appkit.app(tmp_path, changes, firmware="4.7", ntp_port=ntp.port,
                        ticks_start_ms=TICKS_PERIOD - 60000) as (b, url):
            t_boot = b.events[b.wait_for(lambda k, t: k == "boot")][0]
            n = b.console.index(b.wait_console("health:", timeout=40)) + 1    # 20 s in
            b.wait_console("health:", start=n, timeout=30)                      # 40 s in
            ntp.mode = "good"               # the refusal 30 s in was the last one
            t_play = time.monotonic()
            stats = probe.probe(url, duration=28)
            i = b.wait_for(lambda k, t: k == "rtc", timeout=30)
            t_rtc = b.events[i][0]
            t_end = time.monotonic()
            health = [line for line in b.console if "health:" in line]
            _no_traceback(b)
    finally:
        ntp.close()
    assert t_play - t_boot < 58 and t_end - t_boot > 62   # the viewer played across the wrap
    assert not stats.ended_by_camera and stats.frames >= 28 * 20, stats
    assert stats.packets_lost == 0, stats
    assert t_rtc - t_boot > 60, t_rtc - t_boot            # the retry ran after the wrap
    span = t_end - t_boot
    assert span // 20 - 1 <= len(health) <= span // 20, (span, health)   # every 20 s
    stills = _stills(b)
    assert span // 5 - 3 <= len(stills) <= span // 5 + 1, (span, stills)  # every 5 s


@pytest.mark.long
def test_safe_mode_retry_comes_across_the_tick_wrap(tmp_path, good_ntp):
    # Two crashes in a row (a capture that raises what no firmware should) bring safe mode;
    # the counter (restarted by each reset) wraps about half-way through the one-minute
    # wait, and the retry still comes on time.
    changes = {"recovery": {"safe_mode_after": 2, "backoff_s": 1, "backoff_max_s": 1,
                            "safe_mode_retry_min": 1},
               "stills": {"interval_s": 1}}                  # captures with nobody watching
    with appkit.app(tmp_path, changes, firmware="5.0", ntp_port=good_ntp.port,
                    ticks_start_ms=TICKS_PERIOD - 36000) as (b, url):
        b.camera.inject_capture_errors(2, "bus fault", error="value")
        b.wait_console("SAFE MODE", timeout=30)
        t_safe = time.monotonic()
        third = b.events[_wait_boot(b, 3, timeout=1)][2]
        assert "ticks_ms %d" % (TICKS_PERIOD - 36000) in third, third
        n = len(b.console)
        _wait_boot(b, 4, timeout=90)
        waited = time.monotonic() - t_safe
        url = appkit.stream_url(b, start=n)
        assert len(appkit.decode_frames(url, 2)) == 2            # the retry streams
    assert 58 <= waited <= 75, waited
    assert "bus fault" in storage.read_file(b.sd_image, "crash.txt").decode()
