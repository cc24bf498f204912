# Shared helpers for the rtspd firmware tests (a helper module: no test_ functions here).
# Synthetic baseline JPEGs (no image library in MicroPython):
# a valid header (DQT, SOF0, standard DHT, optional DRI, SOS) around a made-up scan.
import struct
from rtspd import jpeg as J

QT0 = bytes(range(1, 65))
QT1 = bytes(range(65, 129))


def seg(marker, body):
    return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body


def make(y=0x21, ncomp=3, sof=0xC0, dri=0, scan=b"\x12\x34\x56" * 10, w=1280, h=720,
         dht=None, dqt=None, pad=b"", eoi=True, extra=b""):
    out = b"\xff\xd8" + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    out += seg(0xDB, dqt if dqt is not None else b"\x00" + QT0 + b"\x01" + QT1)
    out += extra                    # more segments, e.g. a second DQT
    comps = bytes((1, y, 0)) + (bytes((2, 0x11, 1, 3, 0x11, 1)) if ncomp == 3 else b"")
    out += seg(sof, bytes((8,)) + struct.pack(">HH", h, w) + bytes((ncomp,)) + comps)
    out += seg(0xC4, dht if dht is not None else J._STD_HUFF)
    if dri:
        out += seg(0xDD, struct.pack(">H", dri))
    if ncomp == 3:
        out += seg(0xDA, bytes((3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)))
    else:
        out += seg(0xDA, bytes((1, 1, 0x00, 0, 63, 0)))
    header = len(out)
    out += scan
    if eoi:
        out += b"\xff\xd9"
    return out + pad, header


def scan_bytes(n, seed=1):
    """n scan-like bytes without 0xFF (so no marker appears inside)."""
    b = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b[i] = (x >> 16) % 255
    return bytes(b)
