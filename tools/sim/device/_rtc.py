# The emulated RTC: the host keeps it (it survives resets and deep sleep); this process keeps
# only the offset between the host clock and the RTC, so reading it needs no bus round trip.
import struct
import utime
import _bus

_offset = None


def now():
    """RTC time in whole seconds since 1970 (the camera's time.time())."""
    global _offset
    if _offset is None:
        _offset = struct.unpack("<d", _bus.call("rtc_offset"))[0]
    return int(utime.time() + _offset)


def set(secs):
    global _offset
    _offset = secs - utime.time()
    _bus.call("rtc_set", struct.pack("<q", int(secs)))
