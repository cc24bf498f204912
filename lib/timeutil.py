# Time helpers that hold on every firmware the app supports (4.5.0 .. 5.0).
#
# Calendar: time.gmtime() raises OverflowError for values >= 2**31 on MicroPython 1.20-1.25
# (firmware 4.5.0-4.7.x: its argument must fit a 32-bit C int; 2**32 from 1.26, 4.8+). So no
# value reaches gmtime() unchecked: gmtime() here returns None instead, and the checks that
# decide whether a time is plausible (timesync) use plain integer calendar arithmetic
# (year_of, year_start, sunday), which cannot overflow. On a 1970-epoch port 2**31 is 2038-01-19 03:14:08 UTC:
# on every firmware, the app treats later times as invalid (the worst case of the sources).
#
# Ticks: ticks_ms() wraps at 2**30 ms (12.4 days) and ticks_diff() is only valid below 2**29
# ms (6.2 days). A Deadline waits any number of days by counting the time left down on every
# look (the camera loop looks every few ms), so it never needs a difference above 2**29.
# Times are whole seconds and milliseconds in ints: floats on the camera are single
# precision (an epoch time in a float is only exact to 128 s).
import time

END = 2 ** 31                   # first port-epoch second gmtime() may refuse
LATEST = END - 2 * 86400        # latest UTC second the app accepts: local time (offset up to
                                # +14 h, DST +1 h) still converts below END
TICKS_VALID = 1 << 29           # ticks_diff() is right below this (ms)


def _days(y, m, d):
    """Days from 1970-01-01 to y-m-d (proleptic Gregorian; integer arithmetic only)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _year_of_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (mp >= 10)


def _epoch_days():
    try:
        return _days(time.gmtime(0)[0], 1, 1)     # 0 on 1970-epoch ports, 10957 for 2000
    except Exception:
        return 0


EPOCH_DAYS = _epoch_days()


def year_start(y):
    """Port-epoch seconds of y-01-01 00:00:00 UTC."""
    return (_days(y, 1, 1) - EPOCH_DAYS) * 86400


def year_of(secs):
    """The UTC year of port-epoch seconds, for any int (no gmtime)."""
    return _year_of_days(secs // 86400 + EPOCH_DAYS)


def sunday(year, month, nth):
    """Port-epoch seconds of midnight UTC on the nth Sunday of a month (nth=-1: the last)."""
    if nth > 0:
        first = _days(year, month, 1)
        day = first + (6 - (first + 3) % 7) % 7 + 7 * (nth - 1)    # 1970-01-01: a Thursday
    else:
        last = _days(year + month // 12, month % 12 + 1, 1) - 1
        day = last - (last + 4) % 7
    return (day - EPOCH_DAYS) * 86400


def gmtime(secs):
    """time.gmtime(secs), or None where the firmware could not convert it (never raises)."""
    if not isinstance(secs, int) or secs < 0 or secs >= END:
        return None
    try:
        return time.gmtime(secs)
    except (OverflowError, ValueError, TypeError):
        return None


def rtc_now():
    """The RTC in whole seconds (time.time() is an int on the camera; never trust a float)."""
    return int(time.time())


class Deadline:
    """A moment any number of ms ahead on the tick counter. left()/passed() count the time
    down; they must be called at least every 6.2 days (the camera loop calls them every few
    ms). A gap longer than that cannot be measured on ticks: the deadline is then taken as
    passed (acting early is the safe side for its users: a retry, an NTP sync). No
    allocation while the time left stays below 2**30 ms (12.4 days)."""

    def __init__(self, ms=0, ticks_ms=None):
        self._ticks = ticks_ms or time.ticks_ms
        self._mark = 0
        self._left = 0
        self.set(ms)

    def set(self, ms):
        self._mark = self._ticks()
        self._left = ms

    def left(self):
        """ms until the deadline (0 once passed)."""
        if self._left <= 0:
            return 0
        now = self._ticks()
        d = time.ticks_diff(now, self._mark)
        self._mark = now
        self._left = self._left - d if d >= 0 else 0
        return self._left if self._left > 0 else 0

    def passed(self):
        return self.left() == 0
