# Block devices of the emulated board (SD card, internal flash), backed by FAT image files
# on the host. Faults (no card, read/write errors, lying card...) are injected by the host.
import struct
import _bus


class BlockDev:
    def __init__(self, dev):
        self._dev = dev          # "sd" or "flash"
        self._hdr = bytearray(9)

    def readblocks(self, block, buf, off=0):
        if off:
            raise OSError(5)
        struct.pack_into("<BII", self._hdr, 0, 0, block, len(buf))
        n = _bus.call_into(self._dev, self._hdr, buf)
        if n != len(buf):
            raise OSError(5)

    def writeblocks(self, block, buf, off=0):
        if off:
            raise OSError(5)
        struct.pack_into("<BII", self._hdr, 0, 1, block, len(buf))
        _bus.call_parts(self._dev, self._hdr, buf)

    def ioctl(self, op, arg):
        struct.pack_into("<BII", self._hdr, 0, 2, op, arg if isinstance(arg, int) else 0)
        r = _bus.call(self._dev, self._hdr)
        return struct.unpack("<i", r)[0]
