"""Helpers for host tests that talk to the emulated camera over its serial port (a pty)."""
import contextlib
import json
import subprocess
import sys
from pathlib import Path

from tools.sim.board import Board, Options


@contextlib.contextmanager
def serial_board(app_dir, workdir, **kw):
    """A started board with its USB serial port on a pty; always stopped on exit."""
    kw.setdefault("echo", False)
    board = Board(Options(app_dir=Path(app_dir), workdir=Path(workdir), serial=True, **kw))
    board.start()
    try:
        yield board
    finally:
        board.stop()


def mpremote(port, *args, timeout=60, **kw):
    """Run the real mpremote command against `port`; returns CompletedProcess (text)."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def drive(board, fw):
    """(image file, path prefix) of the drive that holds the app: the card, or on 4.5 the root."""
    return board.sd_image, ("/" if fw == "4.5" else "/sdcard/")


# A main.py that never ends by itself, as the camera app does: mpremote must interrupt it.
FOREVER_MAIN = """
import time
print("app running")
while True:
    time.sleep_ms(50)
"""


def mip_index(index):
    """A local micropython-lib style package index with one package, tinypkg (VALUE = 42)."""
    (index / "package" / "6" / "tinypkg").mkdir(parents=True)
    (index / "file" / "ab").mkdir(parents=True)
    (index / "file" / "ab" / "abcdef12").write_text("VALUE = 42\n")
    (index / "package" / "6" / "tinypkg" / "latest.json").write_text(
        json.dumps({"hashes": [["tinypkg.py", "abcdef12"]], "version": "1.0"}))
    return index
