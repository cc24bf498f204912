# rtspd.clock.WallClock against a modelled camera: ticks_ms wrapping at 2**30, an RTC that
# reads whole seconds, runs on its own crystal (drift) and restarts its second when set
# (SNVS_LP_SRTC_SetDatetime clears the sub-second count). The camera loop calls tick() once
# a pass; sender reports call ntp().
import gc
import random
from fakes import TICKS_PERIOD, _MASK, _ticks_add, _ticks_diff
from rtspd.clock import WallClock, NTP_DELTA


class Camera:
    """A `time` module for WallClock: true time in microseconds, moved by the test."""

    def __init__(self, ticks_start=0, rtc=1767225600, ppm=0):
        self.us = 0
        self.ticks_start = ticks_start
        self.ppm = ppm              # RTC crystal against the tick crystal
        self.set(rtc)

    def set(self, secs):            # machine.RTC().datetime(...): sub-second count cleared
        self.rtc_base = secs
        self.rtc_us = self.us

    def rtc_exact(self):            # what the RTC's 32 kHz counter holds, in seconds
        return self.rtc_base + (self.us - self.rtc_us) * (1000000 + self.ppm) / 1e12

    def time(self):
        return self.rtc_base + (self.us - self.rtc_us) * (1000000 + self.ppm) // 10 ** 12

    def ticks_ms(self):
        return (self.ticks_start + self.us // 1000) & _MASK     # 2**30: a heap int on the camera

    ticks_add = staticmethod(_ticks_add)
    ticks_diff = staticmethod(_ticks_diff)


def error_ms(cam, clock):
    sec, frac = clock.ntp()
    got = sec - NTP_DELTA + frac / 2 ** 32
    return (got - cam.rtc_exact()) * 1000


def run(cam, clock, seconds, pass_ms=(3, 40), rnd=None):
    """Loop passes of random length for `seconds`; yields after each pass."""
    rnd = rnd or random
    end = cam.us + seconds * 1000000
    while cam.us < end:
        cam.us += rnd.randint(pass_ms[0] * 1000, pass_ms[1] * 1000)
        clock.tick()
        yield


def worst(cam, clock, seconds, every=37, **kw):
    """Largest |error| of a sender report during `seconds` (a report every `every` passes),
    and whether the clock's own error bound always held."""
    w = 0
    honest = True
    n = 0
    for _ in run(cam, clock, seconds, **kw):
        n += 1
        if n % every == 0:
            e = abs(error_ms(cam, clock))
            w = max(w, e)
            honest = honest and e <= clock.error_ms() + 1
    return w, honest


def test_a_report_is_within_a_loop_pass_once_the_second_edge_was_seen():
    random.seed(1)
    cam = Camera(ticks_start=0)
    cam.us = 123456                 # boot at an arbitrary phase of the RTC second
    c = WallClock(cam)
    c.tick()
    assert abs(error_ms(cam, c)) <= 501        # before any edge: the middle of the second
    for _ in run(cam, c, 2.5):
        pass
    w, honest = worst(cam, c, 30)
    assert honest
    assert w <= 20, w                # passes are 3-40 ms: the brackets narrow below that
    assert c.error_ms() <= 20


def test_the_bracket_narrows_below_the_loop_pass_with_time():
    random.seed(2)
    cam = Camera()
    c = WallClock(cam)
    for _ in run(cam, c, 60, pass_ms=(20, 40)):
        pass
    assert c.error_ms() <= 8, c.error_ms()      # many brackets, each 20-40 ms wide
    w, honest = worst(cam, c, 20, pass_ms=(20, 40))
    assert honest and w <= 8, w


def test_ticks_wrap_changes_nothing():
    random.seed(3)
    cam = Camera(ticks_start=TICKS_PERIOD - 4000)   # ticks_ms wraps 4 s in
    c = WallClock(cam)
    w, honest = worst(cam, c, 12, every=5)
    assert cam.ticks_ms() < 20000            # it did wrap
    w, honest = worst(cam, c, 12, every=5)
    assert honest and w <= 20, w
    assert c.resets == 1                     # only the first read


def test_rtc_set_is_followed_at_the_next_report():
    random.seed(4)
    for jump in (3600, -10, 0, 1):          # NTP sync: later, earlier, same second restarted
        cam = Camera()
        c = WallClock(cam)
        for _ in run(cam, c, 5):
            pass
        cam.us += 500000 - cam.us % 1000000 + 1000   # halfway through a true second
        cam.set(cam.time() + jump)
        resets = c.resets
        e = abs(error_ms(cam, c))           # the report reads the RTC: sees the set
        assert e <= 510, (jump, e)          # its phase is unknown until the next edge
        # a set keeping the second moved only its start: seen at the edge that did not come
        w, honest = worst(cam, c, 3, every=3)
        assert honest or jump == 0, jump
        assert c.resets > resets, jump
        w, honest = worst(cam, c, 5, every=3)
        assert honest and w <= 20, (jump, w)


def test_drift_between_tick_and_rtc_crystals_is_followed():
    # (the allowance is 977 ppm; far beyond it, brackets contradict and are rebuilt)
    for ppm in (200, -500):
        random.seed(5)
        cam = Camera(ppm=ppm)
        c = WallClock(cam)
        for _ in run(cam, c, 3):
            pass
        w, honest = worst(cam, c, 600, every=50, pass_ms=(5, 30))   # 10 minutes
        assert honest, ppm                  # never more wrong than it says
        assert w <= 20 and c.resets == 1, (ppm, w, c.resets)


def test_tick_reads_the_rtc_only_near_a_second_edge_and_allocates_nothing():
    random.seed(6)
    cam = Camera()
    c = WallClock(cam)
    for _ in run(cam, c, 5, pass_ms=(4, 6)):
        pass
    reads = c.reads
    passes = 0
    for _ in run(cam, c, 10, pass_ms=(4, 6)):
        passes += 1
    assert passes > 1500
    assert (c.reads - reads) <= 4 * 10, c.reads - reads     # a few a second, not 200
    # a pass with no read due: no heap allocation (time.time() is a heap int on the camera)
    cam.us += 1000000 - (cam.us - cam.rtc_us) % 1000000 + 300000     # mid-second
    c.tick()
    reads = c.reads
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(100):
        c.tick()
    assert gc.mem_alloc() == before
    assert c.reads == reads


def test_an_unreadable_rtc_does_not_raise():
    class Broken(Camera):
        def time(self):
            raise OSError(5)
    c = WallClock(Broken())
    c.tick()
    assert c.ntp() == (0, 0) and c.error_ms() is None
