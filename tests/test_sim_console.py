"""The console of `make run`: the LED as patterns a person can read, once per change.

The LED switchings are generated from the app's own patterns (lib/status_led.py, loaded as
data: its module level only builds tuples) at exact times, so every pattern the README's LED
table lists is checked against the words the console prints for it."""
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from tools import mpy
from tools.sim.console import Console, LedPatterns

from .rtsp_support import free_port

_spec = importlib.util.spec_from_file_location("status_led_data", mpy.LIB / "status_led.py")
LED = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(LED)
NAMES = ((LED.RED, "red"), (LED.GREEN, "green"), (LED.BLUE, "blue"))


def steps_for(state, errors=(), mode="all"):
    """The (colour, ms) steps lib/status_led.py plays for a state and errors."""
    s = LED.StatusLed.__new__(LED.StatusLed)
    s.mode, s.state, s.errors = mode, state, sorted(errors, key=LED.ERROR_ORDER.index)
    return s._compose()


def play(p, steps, t0, seconds, shown):
    """Feed the LED switchings of `steps` looped for `seconds`; returns the end time."""
    t = t0
    while t < t0 + seconds:
        for colour, ms in steps:
            for bit, name in NAMES:
                want = bool(colour & bit)
                if want != shown[name]:
                    shown[name] = want
                    p.on_led(name, want, t)
                    t += 0.002                   # one LED after the other, as the bus reports
            p.tick(t)
            t += ms / 1000.0
    return t


def lines_for(*phases):
    out = []
    p = LedPatterns(out.append)
    shown = dict.fromkeys(("red", "green", "blue"), False)
    t = 100.0
    for steps, secs in phases:
        t = play(p, steps, t, secs, shown)
    return out


@pytest.mark.quick
@pytest.mark.parametrize("state, errors, expected", [
    (LED.CONNECTING, (), "connecting to WiFi (blue blink, 3 per second)"),
    (LED.IDLE, (), "ready, waiting for a viewer (green flash every 2 s)"),
    (LED.STREAMING, (), "streaming (steady green)"),
    (LED.BOOTING, (), "starting up (steady white)"),
    (LED.SLEEPING, (), "going to deep sleep (cyan blink, 1 per second)"),
    (LED.SAFE_MODE, (), "safe mode (red/blue alternating)"),
    (LED.IDLE, (LED.ERR_SD,), "ready, waiting for a viewer + SD card problem "
                              "(green flash, then 2 red blinks)"),
    (LED.STREAMING, (LED.ERR_CONFIG, LED.ERR_WIFI), "streaming + config.json mistake + WiFi "
                                                    "failed (steady green, then 3 red blinks and 4 red blinks)"),
])
def test_each_pattern_is_named_once_as_the_readme_table_says(state, errors, expected):
    out = lines_for((steps_for(state, errors), 30))
    assert out == [expected]


@pytest.mark.quick
def test_errors_only_mode_shows_just_the_code():
    out = lines_for((steps_for(LED.IDLE, (LED.ERR_WIFI,), mode="errors"), 30))
    assert out == ["WiFi failed (4 red blinks, pause)"]


@pytest.mark.quick
def test_a_change_of_pattern_is_printed_once_each():
    out = lines_for((steps_for(LED.CONNECTING), 5), (steps_for(LED.IDLE), 12),
                    (steps_for(LED.STREAMING), 10), (steps_for(LED.IDLE), 12),
                    (steps_for(LED.IDLE, (LED.ERR_SD,)), 30))
    assert out == ["connecting to WiFi (blue blink, 3 per second)",
                   "ready, waiting for a viewer (green flash every 2 s)",
                   "streaming (steady green)",
                   "ready, waiting for a viewer (green flash every 2 s)",
                   "ready, waiting for a viewer + SD card problem (green flash, then 2 red blinks)"]


@pytest.mark.quick
def test_banner_repeats_the_url_once_the_led_says_ready():
    out = []
    c = Console(out=out.append)
    c("boot", "#1, firmware 5.0.0, reset cause power-on")
    c.add_url("rtsp://admin:pw@127.0.0.1:8554/stream")
    assert not any("ready" in line for line in out)
    c.leds._report([("green", 100), ("off", 1900)])
    assert out[-2] == "  rtsp://admin:pw@127.0.0.1:8554/stream" and "camera ready" in out[-3]
    n = len(out)
    c.leds._report([("green", 1000)], steady=True)
    assert len(out) == n + 1 and out[-1] == "board: led      streaming (steady green)"


def test_make_run_console_is_short_and_ends_with_the_banner(tmp_path):
    """The real emulator and app: a handful of lines, the URL banner, no blink-by-blink LED."""
    port = free_port()
    cmd = [sys.executable, "-m", "tools.sim", "--port", str(port), "--workdir", str(tmp_path),
           "--http-port", str(free_port())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=str(mpy.ROOT))
    lines = []
    ready_led = "board: led      ready, waiting for a viewer (green flash every 2 s)"
    reader = threading.Thread(target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stdout),
                              daemon=True)
    reader.start()
    try:
        # the banner, and the LED's "ready" line: on a busy PC the banner can come first (its
        # fallback, 8 s after the URL) while the flashes are still being recognised
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and reader.is_alive():
            banner = [i for i, ln in enumerate(lines) if ln.startswith("  camera ready")]
            if banner and len(lines) >= banner[0] + 4 and ready_led in lines:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(5)
    text = "\n".join(lines)
    assert "camera ready" in text, text
    url = re.search(r"^  (rtsp://admin:\S+@127\.0\.0\.1:%d/stream)$" % port, text, re.M)
    assert url, text
    assert ready_led in text, text
    assert not re.search(r"board: led +green (on|off)", text)
    assert len(lines) < 40, text
