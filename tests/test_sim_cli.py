"""`python -m tools.sim`: what a user sees when starting the emulated camera."""
import signal
import subprocess
import sys
import time

import pytest

from tools import mpy

from .appkit import free_port


def run_cli(tmp_path, *args, until="rtsp://", timeout=40):
    """Start the CLI, read its lines until one starts with `until` (or, for a tuple, until
    each of them began a line), then Ctrl-C it."""
    waiting = set((until,) if isinstance(until, str) else until)
    port = free_port()
    cmd = [sys.executable, "-m", "tools.sim", "--port", str(port), "--workdir", str(tmp_path),
           *args]
    if "--http-port" not in args:
        cmd += ["--http-port", str(free_port())]       # not the CLI's 8080: tests run in parallel
    proc = subprocess.Popen(cmd, cwd=mpy.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    lines = []
    deadline = time.monotonic() + timeout
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            waiting = set(w for w in waiting if not line.startswith(w))
            if not waiting or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=15)
        lines += rest.splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return port, lines, proc.returncode


@pytest.mark.parametrize("fw", ["4.5", "4.8", "5.0"])
def test_cli_boots_the_app_and_prints_the_url(tmp_path, fw):
    # the LED line comes once the console has seen the LED's pattern repeat
    port, lines, rc = run_cli(tmp_path, "--firmware", fw, until=("rtsp://", "board: led"))
    urls = [line for line in lines if line.startswith("rtsp://")]
    assert urls and urls[0].endswith("@127.0.0.1:%d/stream" % port), lines[-20:]
    assert any(line.startswith("board: boot") and fw in line for line in lines)
    assert any(line.startswith("board: led") for line in lines)
    assert lines[-1] == "board: stopped" and rc == 0          # Ctrl-C stops it cleanly


def test_cli_shows_the_sd_fault(tmp_path):
    port, lines, rc = run_cli(tmp_path, "--sd-fault", "bad_data")
    assert any(line.startswith("board: storage") and "bad_data" in line for line in lines)
    assert any("SD card" in line and "flash" in line for line in lines), lines[-30:]
    assert rc == 0


def test_cli_refuses_unknown_fault(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tools.sim", "--sd-fault", "melted"], cwd=mpy.ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--sd-fault must be one of" in r.stderr


def test_cli_takes_a_full_firmware_version_and_a_ticks_start(tmp_path):
    start = 2**30 - 60000                       # the counter wraps one minute after boot
    port, lines, rc = run_cli(tmp_path, "--firmware", "4.7.0", "--ticks-start-ms", str(start),
                              until="board: boot")
    boot = [line for line in lines if line.startswith("board: boot")]
    assert boot and "firmware 4.7.0, ticks_ms %d," % start in boot[0], lines[-10:]
    assert rc == 0


def test_cli_refuses_an_unknown_firmware(tmp_path):
    r = subprocess.run([sys.executable, "-m", "tools.sim", "--firmware", "4.9"], cwd=mpy.ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "4.7.0" in r.stderr      # the choices are listed
