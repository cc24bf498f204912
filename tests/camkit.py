"""Run MicroPython scripts against the emulated camera alone (a bus with only the camera's
handlers), and render reference pictures with the app's own overlay module."""
import contextlib
import json
import textwrap

import numpy as np
from PIL import Image

from tools import mpy
from tools.sim.bus import BusServer
from tools.sim.camera import CameraModel, FB_POOL_BYTES

FW45, FW48, FW50 = (4, 5, 9), (4, 8, 1), (5, 0, 0)

PRELUDE = """
import json
def R(key, val):
    print("R", json.dumps([key, val]))
def err(fn, *a, **kw):
    try:
        fn(*a, **kw)
        return None
    except Exception as e:
        return [type(e).__name__, str(e)]
def sha(b):
    import hashlib, binascii
    return binascii.hexlify(hashlib.sha256(bytes(b)).digest()).decode()
"""


@contextlib.contextmanager
def board(firmware=FW50, **kw):
    cam = CameraModel(firmware=firmware, **kw)
    srv = BusServer(cam.handlers())
    try:
        yield cam, srv
    finally:
        srv.close()
        cam.close()


def run(srv, code, tmp_path, timeout=60):
    """Run code in MicroPython on the camera's bus; returns {key: value} of its R() lines."""
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(code))
    proc = mpy.run(script, [mpy.DEVICE, mpy.LIB], heap=str(8 * 1024 * 1024 + FB_POOL_BYTES),
                   timeout=timeout, extra_env={"SIM_BUS": "127.0.0.1:%d" % srv.port},
                   cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("R "):
            key, val = json.loads(line[2:])
            out[key] = val
    return out


OVERLAY_SCRIPT = """
import image, overlay, time
for i, secs in enumerate(%r):
    t = None if secs is None else time.gmtime(secs)
    img = image.Image(1280, 720, image.RGB565)
    img.draw_rectangle((0, 0, 1280, 720), color=(255, 255, 255), fill=True)
    overlay.Overlay(%s, clock=lambda: t).draw(img)
    img.save("ref%%d.bmp" %% i)
"""


def overlay_references(tmp_path, overlay_cfg, times):
    """The app's overlay drawn on a white 720p picture for each RTC time in `times` (None:
    the clock is not synced), by the emulated image module; RGB arrays."""
    with board() as (_, srv):
        run(srv, OVERLAY_SCRIPT % (list(times), json.dumps(overlay_cfg)), tmp_path)
    return [np.asarray(Image.open(tmp_path / ("ref%d.bmp" % i)).convert("RGB"))
            for i in range(len(times))]


def overlay_region(ref):
    """Where the overlay drew on a reference (its box and text)."""
    ys, xs = np.nonzero(np.any(ref != 255, axis=2))
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def ink_mismatch(frame, ref, region):
    """Fraction of pixels in region where one picture has bright text and the other not."""
    return ((frame[region].mean(axis=2) > 128) != (ref[region].mean(axis=2) > 128)).mean()
