"""Boot the real camera application (main.py, boot.py, lib/) on the emulated board.

`start_app(tmp_path, config={...})` writes the shipped config.json with the given changes
merged in, boots the board and returns (board, url) once the app announced its stream.
"""
import contextlib
import json
import re
import time
from pathlib import Path

import av

from tools import mpy
from tools.sim.board import Board, Options

from .rtsp_support import free_port  # noqa: F401 (re-exported for the app tests)

SHIPPED = json.loads((mpy.ROOT / "config.json").read_text())
PASSWORD = "test-Pa55word"


def config(changes=None, wifi="testnet"):
    """The shipped config with `changes` ({section: {key: value}}) merged in."""
    cfg = json.loads(json.dumps(SHIPPED))
    cfg["wifi"]["ssid"] = wifi
    cfg["rtsp"]["password"] = PASSWORD
    cfg["time"]["ntp_servers"] = ["127.0.0.1"]
    cfg["watchdog"]["enabled"] = False
    for section, values in (changes or {}).items():
        cfg.setdefault(section, {}).update(values)
    return cfg


@contextlib.contextmanager
def app(tmp_path, changes=None, raw_config=None, wait_url=True, **opts):
    """The app on a started board; yields (board, url). The board is always stopped."""
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg_file = tmp_path / "config.json"
    if raw_config is not None:
        cfg_file.write_text(raw_config)
    else:
        cfg_file.write_text(json.dumps(config(changes), indent=1))
    opts.setdefault("echo", False)
    opts.setdefault("rtsp_port", free_port())
    opts.setdefault("http_port", free_port())
    opts.setdefault("ntp_port", 1)             # nothing answers there unless a test says so
    board = Board(Options(config=cfg_file, workdir=tmp_path / "run", **opts))
    board.start()
    try:
        url = stream_url(board) if wait_url else None
        yield board, url
    finally:
        board.stop()


def stream_url(board, timeout=60, start=0):
    """The URL a player on this PC opens, from the app's 'Stream URL:' console line."""
    try:
        line = board.wait_console("Stream URL:", timeout=timeout, start=start)
    except TimeoutError as e:        # say what the camera did meanwhile
        with board.cond:
            seen = board.console[-40:] + ["board: %s %s" % ev[1:] for ev in board.events[-25:]]
        raise TimeoutError("%s; the camera said:\n%s" % (e, "\n".join(seen))) from None
    path = re.search(r"rtsp://[^\s/]+(/\S*)", line).group(1)
    user = re.search(r"user: (\S+)", line)
    pw = re.search(r"password: (\S+)", line)
    pw = pw and (PASSWORD if pw.group(1).startswith("(") else pw.group(1))   # config's own
    cred = "%s:%s@" % (user.group(1), pw) if user and pw else ""
    return "rtsp://%s127.0.0.1:%d%s" % (cred, board.opt.rtsp_port, path)


def open_stream(url, transport="tcp", timeout=10):
    return av.open(url, options={"rtsp_transport": transport, "analyzeduration": "0",
                                 "probesize": "32"}, timeout=timeout)


def decode_frames(url, n, transport="tcp", limit_s=30):
    """Decode n frames with PyAV; returns a list of RGB numpy arrays."""
    out = []
    deadline = time.monotonic() + limit_s
    with open_stream(url, transport) as c:
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) >= n or time.monotonic() > deadline:
                break
    return out


def log_text(board, drive="sd"):
    """The app's log file from the given image (mtools)."""
    from tools.sim import storage
    image = board.sd_image if drive == "sd" else board.flash_image
    for name in ("logs/camera.log", "camera.log"):
        data = storage.read_file(image, name)
        if data is not None:
            return data.decode(errors="replace")
    return ""


def led_timeline(board):
    """[(t, colour set)] from the board's LED events."""
    on = set()
    out = []
    for t, kind, text in list(board.events):
        if kind != "led":
            continue
        name, state = text.split()
        if state == "on":
            on.add(name)
        else:
            on.discard(name)
        out.append((t, frozenset(on)))
    return out


def blink_codes(board):
    """Red blink codes seen on the LED: runs of short red-only flashes ended by a long pause."""
    tl = led_timeline(board)
    codes = set()
    run = 0
    for (t, c), (t2, _) in zip(tl, tl[1:]):
        dur = t2 - t
        if c == {"red"} and 0.1 <= dur <= 0.35:
            run += 1
        elif not c and run and 0.2 <= dur <= 0.45:
            continue
        elif not c and run and dur >= 1.0:
            codes.add(run)
            run = 0
        else:
            run = 0
    return codes


def wait_codes(board, code, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if code in blink_codes(board):
            return True
        time.sleep(0.3)
    return False
