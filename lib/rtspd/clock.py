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


class WallClock:
    """Wall-clock time for sender reports: the RTC (whole seconds) refined with ticks_ms.

    The RTC has a 1 s resolution; tick() is called every few hundred ms and re-anchors when
    the RTC second changes, so the millisecond part is right to within that period. A jump
    of the RTC (NTP sync) is followed at the next change.
    """

    def __init__(self):
        self.sec = 0
        self.at = time.ticks_ms()
        self.last = -1

    def tick(self):
        now = time.ticks_ms()
        try:
            rtc = int(time.time())
        except Exception:       # RTC unreadable (emulator without a board): keep ticking
            return
        if rtc != self.last:     # a new RTC second began since the last call (or a jump)
            self.sec = rtc
            self.at = now
            self.last = rtc

    def ntp(self):
        """(seconds since 1900, fraction of a second in 1/2**32) for now."""
        ms = time.ticks_diff(time.ticks_ms(), self.at)
        sec = self.sec + ms // 1000
        frac = ((ms % 1000) << 32) // 1000
        return (sec + NTP_DELTA) & 0xFFFFFFFF, frac & 0xFFFFFFFF
