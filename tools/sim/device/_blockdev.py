# Block devices of the emulated board (SD card, internal flash), backed by FAT image files
# on the host. Faults (no card, read/write errors, lying card...) are injected by the host.
# The flash raises OSError on a failure; machine.SDCard returns -EIO instead (machine.py).
import struct
import _bus


class BlockDev:
    def __init__(self, dev):
        self._dev = dev          # "sd" or "flash"
        self._hdr = bytearray(9)

    def _io(self, op, block, buf):
        """Read (op 0) or write (op 1) whole blocks; False when the device failed."""
        struct.pack_into("<BII", self._hdr, 0, op, block, len(buf))
        try:
            if op:
                _bus.call_parts(self._dev, self._hdr, buf)
                return True
            return _bus.call_into(self._dev, self._hdr, buf) == len(buf)
        except OSError:
            return False

    def readblocks(self, block, buf, off=0):
        if off or not self._io(0, block, buf):
            raise OSError(5)

    def writeblocks(self, block, buf, off=0):
        if off or not self._io(1, block, buf):
            raise OSError(5)

    def ioctl(self, op, arg):
        struct.pack_into("<BII", self._hdr, 0, 2, op, arg if isinstance(arg, int) else 0)
        r = _bus.call(self._dev, self._hdr)
        return struct.unpack("<i", r)[0]
