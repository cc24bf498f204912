# ratecontrol: the JPEG quality follows what the link carries, so frames reach viewers at the
# target rate. The link here is a model: a frame of size(q) bytes takes size / rate ms, and
# the camera captures the next frame while one is being sent (as ipcam does with rtspd's two
# slots), so the frame on the wire was made at the quality chosen one frame earlier.
import gc
import time
from ratecontrol import RateControl
from fakes import Ticks, CameraTicks, TICKS_PERIOD


def size_of(q):
    # like a 720p scene: 19 KB at quality 30, 129 KB at 80
    return 1000 + q * q * 20


class Link:
    def __init__(self, rc, ticks, rate, capture_ms=5):
        self.rc, self.ticks, self.rate = rc, ticks, rate      # rate: bytes per ms
        self.capture_ms = capture_ms
        self.gen = 0
        self.wire = None        # (gen, captured, size) of the frame being sent

    def frames(self, n):
        """Send n frames back to back; returns the delivered frames per second (x10)."""
        t0 = self.ticks.t
        for _ in range(n):
            self.ticks.t += self.capture_ms
            nxt = (self.gen, self.ticks(), size_of(self.rc.q))
            self.gen += 1
            if self.wire is not None:
                self.ticks.t += self.wire[2] // self.rate
                self.rc.sent(*self.wire)
            self.wire = nxt
        return n * 10000 // (self.ticks.t - t0)


def test_a_slow_link_gets_smaller_frames_at_the_target_rate():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    link = Link(rc, ticks, 600)           # 600 kB/s: quality 80 would give 4.6 fps
    link.frames(60)
    fps10 = link.frames(50)
    assert 30 < rc.q < 80, rc.q
    assert 90 <= fps10 <= 112, fps10     # within about 10% of 10 fps


def test_it_steps_down_fast_and_up_slowly():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    link = Link(rc, ticks, 400)           # 400 kB/s: 129 KB frames are 3 times too large
    link.frames(2)
    assert rc.q <= 70, rc.q               # one frame told it: 10 steps at once
    link.frames(60)
    q = rc.q
    link.rate = 4000                      # the link got 10 times faster
    seen = [q]
    for _ in range(30):
        link.frames(1)
        seen.append(rc.q)
    ups = [b - a for a, b in zip(seen, seen[1:]) if b > a]
    assert ups and max(ups) <= 2, seen    # up in small steps...
    assert len(ups) <= 30 // 3 + 1, seen  # ...after a few good frames each
    link.frames(200)
    assert rc.q == 80                     # and up to the ceiling, never past it


def test_a_fast_link_keeps_the_ceiling():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    link = Link(rc, ticks, 5000)
    link.frames(100)
    assert rc.q == 80


def test_at_the_floor_the_frame_rate_drops_instead():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    link = Link(rc, ticks, 50)            # 50 kB/s: even quality 30 (19 KB) is 2.6 fps
    link.frames(60)
    assert rc.q == 30
    assert link.frames(20) < 40


def test_the_bitrate_cap_limits_frames_on_a_fast_link():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, max_kbps=4000, ticks_ms=ticks)    # 50 KB a frame at 10 fps
    link = Link(rc, ticks, 5000)
    link.frames(100)
    assert 40 <= rc.q < 80, rc.q
    assert size_of(rc.q) <= 50000 * 17 // 16


def test_target_fps_0_keeps_the_quality_fixed():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 0, ticks_ms=ticks)
    link = Link(rc, ticks, 100)
    link.frames(50)
    assert rc.q == 80


def test_without_viewers_the_quality_climbs_back_to_the_ceiling():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    Link(rc, ticks, 300).frames(60)
    low = rc.q
    assert low < 60
    for _ in range(300):                  # 3 s with a viewer that gets no frame: no change
        ticks.t += 10
        rc.idle(1)
    assert rc.q == low
    for _ in range(100):                  # 1 s without viewers: not yet
        ticks.t += 10
        rc.idle(0)
    assert rc.q <= low + 1
    for _ in range(800):                  # then one step every 100 ms
        ticks.t += 10
        rc.idle(0)
    assert rc.q == 80


def test_a_frame_reported_twice_counts_once():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, ticks_ms=ticks)
    ticks.t += 300
    rc.sent(7, 1000, 129000)              # 3x too slow: down
    q = rc.q
    assert q < 80
    rc._hold = 0
    ticks.t += 300
    rc.sent(7, 1000, 129000)              # a late viewer finished the same frame
    assert rc.q == q


def test_across_the_tick_wrap():
    with CameraTicks():
        ticks = Ticks(TICKS_PERIOD - 3000)
        rc = RateControl(80, 30, 10, ticks_ms=ticks)
        link = Link(rc, ticks, 600)
        link.frames(120)
        assert ticks() < 100000           # the counter wrapped meanwhile
        fps10 = link.frames(50)
    assert 30 < rc.q < 80 and 90 <= fps10 <= 112, (rc.q, fps10)


def test_no_allocation_per_frame():
    ticks = Ticks(1000)
    rc = RateControl(80, 30, 10, max_kbps=4000, ticks_ms=ticks)
    link = Link(rc, ticks, 600)
    link.frames(5)
    gen = link.gen
    gc.collect()
    m0 = gc.mem_alloc()
    for i in range(50):
        ticks.t += 90
        rc.sent(gen + i, ticks.t - 100, 60000 + i * 997)
        rc.idle(1)
    assert gc.mem_alloc() - m0 == 0
