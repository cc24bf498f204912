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


def strftime(fmt, t=None):
    if t is None:
        t = localtime()
    out = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%" or i + 1 == n:
            out.append(c)
            i += 1
            continue
        d = fmt[i + 1]
        i += 2
        if d == "Y":
            out.append("%04d" % t[0])
        elif d == "m":
            out.append("%02d" % t[1])
        elif d == "d":
            out.append("%02d" % t[2])
        elif d == "H":
            out.append("%02d" % t[3])
        elif d == "M":
            out.append("%02d" % t[4])
        elif d == "S":
            out.append("%02d" % t[5])
        elif d == "y":
            out.append("%02d" % (t[0] % 100))
        elif d == "j":
            out.append("%03d" % t[7])
        elif d == "a":
            out.append(_DAYS[t[6]][:3])
        elif d == "A":
            out.append(_DAYS[t[6]])
        elif d == "b":
            out.append(_MONTHS[t[1] - 1][:3])
        elif d == "B":
            out.append(_MONTHS[t[1] - 1])
        elif d == "%":
            out.append("%")
        else:
            out.append("%" + d)
    return "".join(out)
