# Random bytes on every firmware.
#
# os.urandom (the RT1062's TRNG) is missing on firmware 4.5.0-4.5.2 (MicroPython 1.20). There
# the bytes come from timing jitter instead: the 600 MHz cycle counter sampled around short
# sleeps (interrupts, flash and SD timing make its low bits wander), the microsecond counter
# and the RTC, hashed with SHA-256. Good enough to make probe data and nonces differ between
# boots; weaker than a TRNG for a password (the app says so when it generates one there).
import os
import time

HARDWARE = hasattr(os, "urandom")       # False: bytes() comes from timing jitter


def random_bytes(n):
    """n random bytes (os.urandom where the firmware has it)."""
    if HARDWARE:
        return os.urandom(n)
    return _jitter(n)


_count = 0


def _jitter(n):
    global _count
    import hashlib
    import struct
    h = hashlib.sha256()
    _count += 1
    h.update(struct.pack("<IIq", _count, time.ticks_us(), _rtc()))
    buf = bytearray(4)
    for _ in range(64):
        time.sleep_us(7)
        struct.pack_into("<I", buf, 0, (time.ticks_cpu() ^ (time.ticks_us() << 12)) & 0xFFFFFFFF)
        h.update(buf)
    seed = h.digest()
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + struct.pack("<I", i)).digest()
        i += 1
    return out[:n]


def _rtc():
    try:
        return int(time.time())
    except Exception:
        return 0
