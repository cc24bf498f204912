# Emulated `time` as on the camera: time() is the RTC in whole seconds (an int, not the unix
# port's float), localtime()/gmtime() read the RTC (the camera has no time zone), and the
# micropython-lib extension strftime() is there because OpenMV freezes that version.
# The camera is 32-bit: ticks_ms/ticks_us/ticks_cpu wrap at 2**30 (the small-int range;
# source: extmod/modtime.c MICROPY_PY_TIME_TICKS_PERIOD), not at the unix port's 2**62, and
# the counter starts at 0 at every hardware reset; the board may start it near the wrap
# (Options.ticks_start_ms, --ticks-start-ms) and keeps it running across a soft reset.
# gmtime(x)/localtime(x) fail with OverflowError from x >= 2**31 (MicroPython up to 1.25) or
# 2**32 (1.26 on): the profile's fact "gmtime_overflow_from".
# Shaped by the firmware profile at the end of this file.
from utime import sleep, sleep_ms, sleep_us
import utime as _u
import _rtc
import _profile

_PERIOD = _profile.fact("ticks_period", 1 << 30)
_MASK = _PERIOD - 1
_HALF = _PERIOD >> 1
_OVER = _profile.fact("gmtime_overflow_from")


def _start_ms():
    # The counter's value when this process started (the board knows: power-on, reset,
    # soft reset); 0 without a board, as after a hardware reset.
    try:
        import _bus
        import struct
        return struct.unpack("<q", _bus.call("ticks_start"))[0]
    except (OSError, RuntimeError):
        return 0


_start = _start_ms()
_off_ms = _start - _u.ticks_ms()          # the unix port's counters never wrap (2**62)
_off_us = _start * 1000 - _u.ticks_us()


def ticks_ms():
    return (_u.ticks_ms() + _off_ms) & _MASK


def ticks_us():
    return (_u.ticks_us() + _off_us) & _MASK


def ticks_cpu():
    return _u.ticks_cpu() & _MASK


def ticks_add(ticks, delta):
    # source: extmod/modtime.c time_ticks_add @v1.23.0 (same in v1.20.0 utime_mphal.c)
    if delta <= -_HALF or delta >= _HALF:
        raise OverflowError("ticks interval overflow")
    return (ticks + delta) & _MASK


def ticks_diff(end, start):
    return ((end - start + _HALF) & _MASK) - _HALF


def time():
    return _rtc.now()


def time_ns():
    return _rtc.now() * 1000000000


def gmtime(secs=None):
    # 8-tuple as on the camera: (year, month, mday, hour, minute, second, weekday, yearday)
    if secs is None:
        return _u.gmtime(_rtc.now())[:8]
    # The seconds are read as a 32-bit machine word: mp_int_t up to MicroPython 1.25
    # (source: extmod/modtime.c time_localtime mp_obj_get_int @v1.23.0), mp_uint_t from
    # 1.26 (timeutils_obj_get_timestamp, MICROPY_TIMESTAMP_IMPL_UINT): out of its range
    # OverflowError; a float is refused (the unix port, double-precision, takes it).
    if isinstance(secs, float):
        raise TypeError("can't convert float to int")
    if _OVER is not None and (secs >= _OVER or secs < (-_OVER if _OVER <= 1 << 31 else 0)):
        raise OverflowError("overflow converting long int to machine word")
    return _u.gmtime(secs)[:8]


def localtime(secs=None):
    return gmtime(secs)


def mktime(t):
    return _u.mktime(t)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


# directive -> (tuple index, format); names are looked up in the tables above
_NUMERIC = {"Y": (0, "%04d"), "m": (1, "%02d"), "d": (2, "%02d"), "H": (3, "%02d"),
            "M": (4, "%02d"), "S": (5, "%02d"), "j": (7, "%03d")}


def _directive(d, t):
    if d in _NUMERIC:
        i, f = _NUMERIC[d]
        return f % t[i]
    if d == "y":
        return "%02d" % (t[0] % 100)
    if d in "aA":
        return _DAYS[t[6]] if d == "A" else _DAYS[t[6]][:3]
    if d in "bB":
        return _MONTHS[t[1] - 1] if d == "B" else _MONTHS[t[1] - 1][:3]
    return "%" if d == "%" else "%" + d


def strftime(fmt, t=None):
    if t is None:
        t = localtime()
    out = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append(_directive(fmt[i + 1], t))
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


_profile.gate(globals(), "time")
_profile.forget("time")
