"""The emulated camera's USB serial port: the real mpremote (and a terminal) talk to the
MicroPython REPL on a pty, as they do to the camera."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import serial

from tools.sim import storage

from .serialkit import FOREVER_MAIN, drive, mip_index, mpremote, serial_board
from .rtsp_support import free_port
from .simkit import make_app

BOOT = 'print("boot.py ran")\n'


@pytest.mark.parametrize("fw", ["4.5", "5.0"])
def test_mpremote_fs_and_exec_work_and_interrupt_the_running_app(tmp_path, fw):
    app = make_app(tmp_path / "app", main=FOREVER_MAIN, boot=BOOT)
    note = tmp_path / "note.txt"
    note.write_text("written by mpremote\n")
    with serial_board(app, tmp_path / "run", firmware=fw) as b:
        b.wait_console("app running")
        r = mpremote(b.serial.path, "fs", "ls", ":", "+", "fs", "cp", str(note), ":note.txt",
                     "+", "fs", "cat", ":note.txt", "+", "fs", "rm", ":boot.py",
                     "+", "exec", "import os; print('FILES', sorted(os.listdir()))")
        assert r.returncode == 0, r.stdout + r.stderr
        img, _ = drive(b, fw)
        assert storage.read_file(img, "note.txt") == b"written by mpremote\n"
        assert "boot.py" not in storage.list_dir(img)
    listing = r.stdout.split("cp ")[0]
    assert re.search(r"\d+ main\.py", listing) and re.search(r"\d+ boot\.py", listing)
    assert "written by mpremote" in r.stdout
    files = eval(r.stdout.split("FILES ", 1)[1].splitlines()[0])
    assert "note.txt" in files and "boot.py" not in files and "main.py" in files


def test_mpremote_run_and_a_failing_exec_report_like_a_device(tmp_path):
    app = make_app(tmp_path / "app", main=FOREVER_MAIN, boot=BOOT)
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint('hello from', sys.platform, 6 * 7)\n")
    with serial_board(app, tmp_path / "run") as b:
        ok = mpremote(b.serial.path, "run", str(script))
        bad = mpremote(b.serial.path, "exec", "x = 1\nraise ValueError('boom')")
    assert ok.returncode == 0 and "hello from" in ok.stdout and "42" in ok.stdout
    assert bad.returncode == 1
    out = bad.stdout + bad.stderr
    assert 'File "<stdin>", line 2' in out and "ValueError: boom" in out
    assert "_repl.py" not in out          # the REPL's own frames are not the user's business


def test_soft_reset_reruns_boot_py_but_not_main_py(tmp_path):
    app = make_app(tmp_path / "app", main=FOREVER_MAIN, boot=BOOT)
    with serial_board(app, tmp_path / "run") as b:
        b.wait_console("app running")
        r = mpremote(b.serial.path, "exec", "print('after reset')")   # mpremote soft-resets
        assert r.returncode == 0, r.stderr
        boots = [t for _, k, t in b.events if k == "boot"]
        console = list(b.console)
    assert len(boots) == 2 and boots[1].endswith("reset cause soft")
    assert sum("boot.py ran" in line for line in console) == 2
    assert sum("app running" in line for line in console) == 1
    assert any("KeyboardInterrupt" in line for line in console)    # main.py was stopped


def test_terminal_friendly_repl_ctrl_c_and_ctrl_d(tmp_path):
    app = make_app(tmp_path / "app", main="print('app done')\n", boot=BOOT)
    with serial_board(app, tmp_path / "run") as b:
        b.wait_for(lambda k, t: k == "repl")
        with serial.Serial(b.serial.path, timeout=0.2) as s:
            def talk(data, until, limit=5.0):
                s.write(data)
                got, end = b"", time.monotonic() + limit
                while until not in got and time.monotonic() < end:
                    got += s.read(256)
                return got.decode(errors="replace")
            banner = talk(b"\x02", b">>> ")
            value = talk(b"6 * 7\r", b">>> ")
            block = talk(b"for i in range(3):\r    print('n', i)\r\r", b"n 2")
            s.write(b"while True:\r    pass\r\r")
            time.sleep(0.5)
            stopped = talk(b"\x03", b"KeyboardInterrupt")
            reset = talk(b"\x04", b"boot.py ran")
    assert "MicroPython" in banner
    assert "\r\n42\r\n" in value                  # echo, result, CR LF line ends
    assert "n 0\r\nn 1\r\nn 2" in block
    assert "KeyboardInterrupt" in stopped
    assert "soft reboot" in reset


def test_mip_installs_from_a_local_index(tmp_path):
    index = mip_index(tmp_path / "index")
    app = make_app(tmp_path / "app", main=FOREVER_MAIN)
    with serial_board(app, tmp_path / "run") as b:
        r = mpremote(b.serial.path, "mip", "install", "--index", str(index),
                     "--target", "/sdcard/lib", "tinypkg", "+",
                     "exec", "import tinypkg; print('VALUE', tinypkg.VALUE)")
        assert r.returncode == 0, r.stdout + r.stderr
        assert storage.read_file(b.sd_image, "lib/tinypkg.py") == b"VALUE = 42\n"
    assert "VALUE 42" in r.stdout


def test_cli_serial_flag_prints_the_port(tmp_path):
    cmd = [sys.executable, "-m", "tools.sim", "--serial", "--workdir", str(tmp_path),
           "--port", str(free_port()), "--http-port", str(free_port())]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            m = re.match(r"serial: (/dev/pts/\d+)$", line.strip())
            port = m.group(1) if m else None
        assert port, "no 'serial: /dev/pts/N' line"
        r = mpremote(port, "exec", "print('answer', 6 * 7)")
        assert r.returncode == 0 and "answer 42" in r.stdout, r.stdout + r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_ctrl_c_typed_before_power_on_stops_the_app_when_it_starts(tmp_path):
    from tools.sim.board import Board, Options
    app = make_app(tmp_path / "app", main=FOREVER_MAIN, boot=BOOT)
    b = Board(Options(app_dir=app, workdir=tmp_path / "run", serial=True, echo=False))
    try:
        with serial.Serial(b.serial.path) as s:
            s.write(b"\r\x03")              # mpremote's interrupt, before the firmware runs
            time.sleep(0.2)
            b.start()
            b.wait_for(lambda k, t: k == "repl", timeout=10)
    finally:
        b.stop()
    assert any("KeyboardInterrupt" in line for line in b.console)
    assert not any("app running" in line for line in b.console)
