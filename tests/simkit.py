"""Helpers for host tests that boot a small app (or the real one) on the emulated board."""
import contextlib
import textwrap
from pathlib import Path

from tools.sim.board import Board, Options


def make_app(root, main="", boot="", config=None, lib=None):
    """Write a tiny app (main.py, boot.py, config.json, lib/*) into root; returns root."""
    root = Path(root)
    (root / "lib").mkdir(parents=True, exist_ok=True)
    (root / "main.py").write_text(textwrap.dedent(main))
    if boot is not None:
        (root / "boot.py").write_text(textwrap.dedent(boot))
    (root / "config.json").write_text(config if config is not None else "{}")
    for name, text in (lib or {}).items():
        (root / "lib" / name).write_text(textwrap.dedent(text))
    return root


@contextlib.contextmanager
def running(app_dir, workdir, **kw):
    """A started board running app_dir; always stopped (process ended) on exit."""
    kw.setdefault("echo", False)
    board = Board(Options(app_dir=Path(app_dir), workdir=Path(workdir), **kw))
    board.start()
    try:
        yield board
    finally:
        board.stop()


def results(board, prefix="RESULT", timeout=60):
    """Wait for the console line `PREFIX ...` the app prints and return the rest of it."""
    line = board.wait_console(prefix + " ", timeout=timeout)
    return line.split(prefix + " ", 1)[1]
