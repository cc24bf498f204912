# Emulated `time` as on the camera: time() is the RTC in whole seconds (an int, not the unix
# port's float), localtime()/gmtime() read the RTC (the camera has no time zone), and the
# micropython-lib extension strftime() is there because OpenMV freezes that version.
from utime import sleep, sleep_ms, sleep_us, ticks_ms, ticks_us, ticks_cpu, ticks_add, ticks_diff
import utime as _u
import _rtc


def time():
    return _rtc.now()


def time_ns():
    return _rtc.now() * 1000000000


def gmtime(secs=None):
    # 8-tuple as on the camera: (year, month, mday, hour, minute, second, weekday, yearday)
    return _u.gmtime(_rtc.now() if secs is None else int(secs))[:8]


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
