"""Host side of the emulated storage: FAT image files for the internal flash and the SD card,
made with dosfstools/mtools, served block by block over the bus with injectable faults.

SD faults (--sd-fault / Board.sd.fault):
  none         a healthy card
  no_card      the slot is empty
  unformatted  a card without a file system
  read_errors  every block read fails
  write_errors every block write fails
  read_only    writes fail (a locked or worn-out card)
  full         the file system has no free space left
  removed      the card is pulled out while running (Board.sd.remove(), or removed@SECONDS)
  bad_data     the card accepts writes but keeps the old data (a fake or dying card)
"""
import errno
import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path

from .bus import BusError

BLOCK = 512
FAULTS = ("none", "no_card", "unformatted", "read_errors", "write_errors", "read_only", "full",
          "removed", "bad_data")


def tool(name):
    """Path of a system tool (mkfs.fat, mtools, fsck.fat, chronyd...), also in the sbin
    folders a non-root PATH lacks."""
    for p in (shutil.which(name), "/usr/sbin/" + name, "/sbin/" + name):
        if p and os.path.exists(p):
            return p
    raise FileNotFoundError(name + " not found: run `make setup` (tools/setup_system.sh)")


def make_fat_image(path, size_mb, files=(), fat32=True, label="OPENMV"):
    """Create a FAT image of size_mb and copy `files` [(host_path, image_path)] into it."""
    path = Path(path)
    if path.exists():
        path.unlink()
    args = [tool("mkfs.fat"), "-C", "-n", label]
    if fat32:
        args += ["-F", "32"]
    subprocess.run(args + [str(path), str(size_mb * 1024)], check=True, capture_output=True)
    for src, dst in files:
        copy_into(path, src, dst)
    return path


def copy_into(image, src, dst):
    """Copy a host file or folder into the image at dst (mtools)."""
    src = Path(src)
    parent = os.path.dirname(dst.rstrip("/"))
    if parent not in ("", "/"):
        mkdirs(image, parent)
    args = [tool("mcopy"), "-o", "-i", str(image)]
    if src.is_dir():
        args.append("-s")
    subprocess.run(args + [str(src), "::" + dst], check=True, capture_output=True)


def mkdirs(image, path):
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts)):
        d = "/".join(parts[: i + 1])
        subprocess.run([tool("mmd"), "-D", "s", "-i", str(image), "::" + d], capture_output=True)


def read_file(image, path):
    """Read a file out of an image (mtools); None if it does not exist."""
    r = subprocess.run([tool("mtype"), "-i", str(image), "::" + path], capture_output=True)
    return r.stdout if r.returncode == 0 else None


def list_dir(image, path="/", recursive=False):
    """Names in an image folder (mtools)."""
    args = [tool("mdir"), "-b", "-i", str(image)]
    if recursive:
        args.append("-/")
    r = subprocess.run(args + ["::" + path], capture_output=True, text=True)
    if r.returncode:
        return []
    return [line.strip().removeprefix("::").rstrip("/") for line in r.stdout.splitlines() if line.strip()]


def fill_up(image):
    """Leave (almost) no free space in the image's file system: the 'full' card."""
    free = None
    df = subprocess.run([tool("mdir"), "-i", str(image), "::"], capture_output=True, text=True)
    for line in df.stdout.splitlines():
        if "bytes free" in line:
            free = int(line.split("bytes")[0].replace(" ", "").replace(",", ""))
    if not free:
        return
    filler = Path(str(image) + ".filler")
    with open(filler, "wb") as f:
        f.truncate(free)
    try:
        copy_into(image, filler, "/FILLER.BIN")
    finally:
        filler.unlink()


class BlockDevice:
    """An image file served as a block device, with the faults above."""

    def __init__(self, name, path, emit, fault="none"):
        self.name = name
        self.path = Path(path) if path else None
        self.emit = emit
        self.fault = "none"
        self.lock = threading.Lock()
        self.set_fault(fault)

    def set_fault(self, fault):
        if fault not in FAULTS:
            raise ValueError("unknown SD fault %r (one of %s)" % (fault, ", ".join(FAULTS)))
        self.fault = fault
        if fault != "none":
            self.emit("storage", "%s fault: %s" % (self.name, fault))

    def remove(self):
        """Pull the card out (while running)."""
        self.fault = "removed"
        self.emit("storage", "%s card removed" % self.name)

    def present(self):
        return self.path is not None and self.fault not in ("no_card", "removed")

    def handle(self, payload):
        op, a, b = struct.unpack_from("<BII", payload, 0)
        with self.lock:
            if op == 0:
                return self._read(a, b)
            if op == 1:
                return self._write(a, payload[9:])
            return struct.pack("<i", self._ioctl(a, b))

    def _read(self, block, nbytes):
        if not self.present():
            raise BusError.oserror(errno.ENODEV)
        if self.fault == "read_errors":
            raise BusError.oserror(errno.EIO)
        with open(self.path, "rb") as f:
            f.seek(block * BLOCK)
            data = f.read(nbytes)
        return data.ljust(nbytes, b"\0")

    def _write(self, block, data):
        if not self.present():
            raise BusError.oserror(errno.ENODEV)
        if self.fault in ("write_errors", "read_only"):
            raise BusError.oserror(errno.EIO)
        if self.fault == "bad_data":
            return b""            # acknowledged, never stored
        with open(self.path, "r+b") as f:
            f.seek(block * BLOCK)
            f.write(data)
        return b""

    def _ioctl(self, op, arg):
        # Without a card, init and the geometry fail with -EIO
        # (source: ports/mimxrt/machine_sdcard.c machine_sdcard_ioctl @v1.23.0).
        if op in (1, 4, 5) and not self.present():
            return -errno.EIO
        if op == 4:   # block count
            return os.path.getsize(self.path) // BLOCK
        if op == 5:   # block size
            return BLOCK
        return 0
