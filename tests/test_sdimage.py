"""python -m tools.sdimage: an MBR + FAT32 card image with the app, that the emulated camera
boots from (its SD card is the image file)."""
import json
import os
import struct
import subprocess
import sys

import pytest

from tools.appfiles import ROOT
from tools.sim import storage
from tools import sdimage

from .simkit import make_app, results, running

CARD_MAIN = """
import json, os, helper
cfg = json.load(open("config.json"))
print("RESULT", os.getcwd(), helper.WHERE, cfg["wifi"]["ssid"], helper.__file__.split(".")[-1])
"""


def build(out, app, *args, env=None):
    cmd = [sys.executable, "-m", "tools.sdimage", "--out", str(out), "--app", str(app), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, **(env or {})))


def card_app(root):
    return make_app(root, main=CARD_MAIN, config=json.dumps({"wifi": {"ssid": ""}}),
                    lib={"helper.py": "WHERE = 'card'\n"})


@pytest.mark.parametrize("fw,cwd", [("4.5", "/"), ("5.0", "/sdcard")])
def test_the_image_boots_in_the_emulator(tmp_path, fw, cwd):
    img = tmp_path / "card.img"
    r = build(img, card_app(tmp_path / "app"), "--size", "64M", "--wifi-ssid", "CardNet",
              "--wifi-password-env", "T_PW", env={"T_PW": "card-secret-991"})
    assert r.returncode == 0, r.stderr
    assert "card-secret-991" not in r.stdout + r.stderr
    # the flash holds another app: only the card's may run
    flash_app = make_app(tmp_path / "flash", main="print('RESULT flash app')\n")
    with running(flash_app, tmp_path / "run", firmware=fw, sd_image=img) as b:
        got = results(b).split()
    assert got == [cwd, "card", "CardNet", "py"]


def test_mpy_image_for_the_emulator_architecture_boots(tmp_path):
    img = tmp_path / "card.img"
    r = build(img, card_app(tmp_path / "app"), "--size", "64M", "--mpy", "--march", "x64")
    assert r.returncode == 0, r.stderr
    assert storage.read_file(sdimage.partition(img), "lib/helper.py") is None
    with running(make_app(tmp_path / "flash", main=""), tmp_path / "run", sd_image=img) as b:
        assert results(b).split()[-1] == "mpy"


def test_partition_table_and_file_system(tmp_path):
    img = tmp_path / "card.img"
    app = card_app(tmp_path / "app")
    assert build(img, app, "--size", "96M").returncode == 0
    data = img.read_bytes()
    assert len(data) == 96 << 20
    assert data[510:512] == b"\x55\xaa"
    status, ptype = data[446], data[450]
    start, count = struct.unpack_from("<II", data, 454)
    assert (status, ptype, start) == (0, 0x0C, 8192)           # FAT32 LBA at 4 MiB
    assert start + count == len(data) // 512                    # fills the image
    boot = data[start * 512:(start + 1) * 512]
    assert boot[82:90] == b"FAT32   " and boot[510:512] == b"\x55\xaa"
    assert struct.unpack_from("<I", boot, 28)[0] == start       # hidden sectors = offset
    part = sdimage.partition(img)
    assert storage.read_file(part, "main.py") == (app / "main.py").read_bytes()
    listed = json.loads(storage.read_file(part, ".deploy.json"))["files"]
    assert sorted(listed) == ["boot.py", "config.json", "lib/helper.py", "main.py"]


def test_refuses_to_overwrite_and_too_small(tmp_path):
    img = tmp_path / "card.img"
    img.write_bytes(b"precious")
    app = card_app(tmp_path / "app")
    exists = build(img, app, "--size", "64M")
    small = build(tmp_path / "b.img", app, "--size", "16M")
    assert exists.returncode == 1 and "--force" in exists.stderr
    assert img.read_bytes() == b"precious"
    assert small.returncode == 1 and "at least 64M" in small.stderr
