# The two clocks of the stream: the 90 kHz RTP clock, driven by the capture time of each frame,
# and the wall clock (RTC) that RTCP sender reports map it to.
import time

NTP_DELTA = 2208988800      # seconds from 1900 (NTP epoch) to 1970 (the RTC's epoch)
_MASK = 0xFFFFFFFF


class RtpClock:
    """RTP timestamps from ticks_ms capture times.

    The timestamp is accumulated from ticks_diff() between frames, never computed from the raw
    tick value, so it stays continuous when ticks_ms wraps around. Values above 2**30 are heap
    objects on the camera: they are computed once per frame here, never per packet.
    """

    def __init__(self, ts, ticks):
        self.ts = ts & _MASK        # timestamp of the reference instant...
        self.t = ticks              # ...and its ticks_ms

    def frame(self, ticks):
        """Timestamp of a frame captured at `ticks` (strictly after the previous one)."""
        d = time.ticks_diff(ticks, self.t)
        if d < 1:
            d = 1           # never two frames with one timestamp, never backwards
        self.ts = (self.ts + 90 * d) & _MASK
        self.t = time.ticks_add(self.t, d)
        return self.ts

    def at(self, ticks):
        """Timestamp of the instant `ticks` (for RTP-Info and sender reports)."""
        return (self.ts + 90 * time.ticks_diff(ticks, self.t)) & _MASK

    def refresh(self, ticks, idle_ms=600000):
        """Move the reference up when no frame came for a long time, so that ticks_diff()
        (valid for half the tick period, days) never wraps."""
        if time.ticks_diff(ticks, self.t) > idle_ms:
            self.ts = self.at(ticks)
            self.t = ticks


# The RTC (SNVS SRTC) counts 32768 Hz inside, but the firmware gives only whole seconds:
# time.time(), time_ns() and RTC().datetime() all go through SNVS_LP_SRTC_GetDatetime
# (ports/mimxrt modtime.c mp_time_time_get, mphalport.c mp_hal_time_ns: seconds * 10**9,
# machine_rtc.c machine_rtc_datetime_helper: subseconds 0). Setting it (SNVS_LP_SRTC_SetDatetime)
# clears the sub-second count, so a sync moves the phase of its second edges too.
_EDGE_EARLY = 2         # ms: reads start this soon before the earliest possible second edge
_MAX_GAP_S = 3600       # RTC seconds between reads beyond which the bracket is rebuilt
_MAX_AGE = 1 << 28      # ms: a bound this old (3 days) is dropped (ticks_diff's range)


def _widen(ms):
    # what the tick counter (24 MHz crystal) and the RTC (32 kHz crystal) may drift apart
    # in `ms`: 1 ms per 1024 ms (977 ppm, ten times two crystals' tolerance), rounded up
    return (ms + 1023) >> 10


class WallClock:
    """Wall-clock time for sender reports: the whole-second RTC refined with ticks_ms.

    The start of RTC second `sec` lies in the tick interval (lo, hi]. Every RTC read narrows
    it: a read of v between ticks t0 and t1 puts the start of v in (t0 - 1000, t1], so the
    reads just before and just after a second edge bracket it to a loop pass, and brackets
    seen on later seconds (shifted by whole seconds) narrow it further. Each bound is kept
    with the tick it was seen at and widened by the drift allowance as it ages, so a fresh
    observation replaces it once it is the tighter one. A read outside the bracket means the
    RTC was set (NTP sync): start over from that read.

    tick() may be called every loop pass: it reads nothing (two small-int compares) unless
    the next second edge may be close; then it reads the RTC each call until the edge went
    by, about two reads a second once the bracket is narrow. time.time() is a heap int on
    the camera (above 2**30), so reads allocate: hence not every call.
    """

    def __init__(self, tm=time):
        self._tm = tm           # the time module (tests give one that wraps or drifts)
        self.sec = None         # RTC second whose start is bracketed; None: unknown
        self.lo = self.tlo = self.hi = self.thi = 0     # bounds and the ticks they were seen
        self.due = tm.ticks_ms()    # ticks from which tick() reads the RTC again
        self.rv = None          # the previous read: its value and the ticks before it
        self.rt = 0
        self.reads = 0          # RTC reads so far (tests)
        self.resets = 0         # brackets rebuilt: first read, RTC set, long gap (tests)

    def tick(self):
        tm = self._tm
        if tm.ticks_diff(tm.ticks_ms(), self.due) >= 0:
            self._read()

    def _read(self):
        tm = self._tm
        t0 = tm.ticks_ms()
        try:
            v = int(tm.time())  # (a float on the unix port: tools/rtsp_serve.py)
        except Exception:       # RTC unreadable (emulator without a board): keep ticking,
            self.due = tm.ticks_add(t0, 1000)       # try again in a second
            return
        t1 = tm.ticks_ms()
        self.reads += 1
        olo = tm.ticks_add(t0, -1000)       # this read alone: start of v in (olo, ohi]
        ohi = tm.ticks_add(t1, 1)           # (+1: the read ends before tick t1 + 1)
        if not self._narrow(v, t0, t1, olo, ohi):
            self.resets += 1
            self.sec = v
            self.lo, self.tlo, self.hi, self.thi = olo, t0, ohi, t1
            # the previous read saw another second: v began after it (a set RTC starts its
            # second when set, so this holds across a sync too)
            if self.rv is not None and v != self.rv and 0 < tm.ticks_diff(t0, self.rt) < 1000:
                self.lo, self.tlo = self.rt, t0
        self.rv = v
        self.rt = t0
        # the next edge (start of v + 1) cannot come before lo + 1000, less the drift
        d = 1000 - _widen(tm.ticks_diff(t1, self.tlo) + 1000) - _EDGE_EARLY
        self.due = tm.ticks_add(self.lo, d)
        if tm.ticks_diff(self.due, t1) < 1:
            # waiting for the edge: reads an eighth of the bracket apart (at least a tick,
            # all a ms clock can tell), so the bracket shrinks eightfold per second (1 s,
            # 125, 16, 2, 1 ms) with a few reads each; read every pass, a loop that spins
            # fast read a thousand times in the first second (60-240 B per frame)
            step = tm.ticks_diff(self.hi, self.lo) >> 3
            self.due = tm.ticks_add(t1, step if step > 1 else 1)

    def _narrow(self, v, t0, t1, olo, ohi):
        """Intersect the bracket, moved to second v, with this read's; False if they
        do not meet (or the bracket is unusable): the caller starts over."""
        if self.sec is None:
            return False
        k = v - self.sec
        if not 0 <= k <= _MAX_GAP_S:
            return False
        tm = self._tm
        alo = tm.ticks_diff(t1, self.tlo)
        ahi = tm.ticks_diff(t1, self.thi)
        if not (0 <= alo < _MAX_AGE and 0 <= ahi < _MAX_AGE):
            return False
        plo = tm.ticks_add(self.lo, 1000 * k - _widen(alo))
        phi = tm.ticks_add(self.hi, 1000 * k + _widen(ahi))
        lo_new = tm.ticks_diff(olo, plo) > 0
        hi_new = tm.ticks_diff(ohi, phi) < 0
        if tm.ticks_diff(ohi if hi_new else phi, olo if lo_new else plo) <= 0:
            return False        # no overlap: the RTC was set
        self.sec = v
        if lo_new:
            self.lo, self.tlo = olo, t0
        else:
            self.lo = tm.ticks_add(self.lo, 1000 * k)
        if hi_new:
            self.hi, self.thi = ohi, t1
        else:
            self.hi = tm.ticks_add(self.hi, 1000 * k)
        return True

    def ntp(self):
        """(seconds since 1900, fraction of a second in 1/2**32) for now."""
        self._read()            # once per sender report: a set RTC is seen at once
        tm = self._tm
        now = tm.ticks_ms()
        if self.sec is None:
            return 0, 0         # RTC unreadable
        lo = tm.ticks_add(self.lo, -_widen(tm.ticks_diff(now, self.tlo)))
        hi = tm.ticks_add(self.hi, _widen(tm.ticks_diff(now, self.thi)))
        ms = tm.ticks_diff(now, tm.ticks_add(lo, tm.ticks_diff(hi, lo) >> 1))
        sec = self.sec + ms // 1000
        frac = ((ms % 1000) << 32) // 1000
        return (sec + NTP_DELTA) & 0xFFFFFFFF, frac & 0xFFFFFFFF

    def error_ms(self):
        """Half the bracket's width now: how far ntp() may be from the RTC (tests, stats)."""
        if self.sec is None:
            return None
        tm = self._tm
        now = tm.ticks_ms()
        w = tm.ticks_diff(self.hi, self.lo) + _widen(tm.ticks_diff(now, self.tlo)) \
            + _widen(tm.ticks_diff(now, self.thi))
        return (w + 1) >> 1
