# Adaptive JPEG quality: frames as large as the link can carry at the target frame rate.
#
# The signal is what the send path achieved. For each frame rtspd reports (sent()) when the
# last viewer that took it has written its last byte, with the frame's capture time and size.
# The link was busy with that frame from the later of its capture and the previous frame's
# completion (while a frame is being sent the camera already captures the next one, so under
# load they follow back to back), so
#     busy = done - max(captured, previous done)      size / busy = the rate achieved
#     budget = size * period / busy                   bytes a frame may have at target_fps
# (at most the bitrate cap's share, max_kbps / target_fps). A frame larger than its budget
# steps the quality down at once, more the larger it is; frames with headroom step it up by
# one after a few in a row. The first frames after a step down were captured at the old
# quality (they were in the sensor or the slot already) and are not counted.
# Viewers share the link equally (rtspd.budget): a frame is done when the slowest of them has
# it, so with n viewers each frame is sized for rate / n. With no viewer the quality climbs
# back to the ceiling (camera.quality); at the floor (stream.min_quality) the frame rate
# drops instead.
# Small ints only (31 bits on the camera), nothing allocated per frame.
import time

UP_AFTER = 3            # frames in a row with headroom before a step up
HOLD = 2                # frames ignored after a step down (captured at the old quality)
IDLE_MS = 1000          # no viewer this long: climb back toward the ceiling...
CLIMB_MS = 100          # ...one step this often


class RateControl:
    def __init__(self, ceiling, floor, target_fps, max_kbps=0, ticks_ms=None):
        """ceiling/floor: JPEG quality bounds; target_fps 0: fixed quality (the ceiling)."""
        self._ticks = ticks_ms or time.ticks_ms
        self.top = ceiling
        self.floor = floor if floor < ceiling else ceiling
        self.q = ceiling                    # the quality to use now
        self.period = 1000 // target_fps if target_fps > 0 else 0     # ms per frame
        # bytes a frame may have under the bitrate cap (kbit/s = 125 bytes/s)
        self.cap = max_kbps * 125 // target_fps if max_kbps > 0 and target_fps > 0 else 0
        now = self._ticks()
        self._gen = -1
        self._done = now        # when the previous frame was done
        self._seen = now        # last sent() or viewer seen (for the climb back)
        self._good = 0          # frames with headroom in a row
        self._hold = 0          # frames still to ignore after a step down
        self.late = 0           # frames too large for their budget (counted for stats)

    def sent(self, gen, captured, size, judge=True):
        """rtspd: frame `gen`, captured at ticks `captured`, `size` bytes, is with every
        viewer that took it. judge False: a frame larger on purpose (a still's quality,
        lib/still_images.py): its completion counts, its size does not."""
        if self.period == 0 or gen == self._gen:
            return              # fixed quality, or the same frame again (a late joiner)
        self._gen = gen
        now = self._ticks()
        start = captured if time.ticks_diff(captured, self._done) > 0 else self._done
        busy = time.ticks_diff(now, start)
        self._done = now
        self._seen = now
        if not judge:
            return
        if self._hold:
            self._hold -= 1
            return
        self._judge(size, busy if busy > 0 else 1)

    def _judge(self, size, busy):
        budget = size * self.period // busy if size < 0x100000 else size // busy * self.period
        if self.cap and budget > self.cap:
            budget = self.cap
        if budget < 1:
            budget = 1
        r = size * 16 // budget if size < 0x1000000 else 999    # size / budget, in 16ths
        if r >= 17:                     # too large (or late): down now, more when far off
            self._good = 0
            self.late += 1
            self._step(-(10 if r >= 32 else 6 if r >= 24 else 3 if r >= 19 else 1))
            self._hold = HOLD
        elif r <= 14:                   # headroom (>= 12%): up slowly
            self._good += 1
            if self._good >= UP_AFTER:
                self._good = 0
                self._step(2 if r <= 10 else 1)
        else:
            self._good = 0

    def _step(self, d):
        q = self.q + d
        self.q = self.top if q > self.top else self.floor if q < self.floor else q

    def idle(self, viewers):
        """The camera loop, every pass: with no viewer, back toward the ceiling."""
        if self.q >= self.top:
            return
        now = self._ticks()
        if viewers:
            self._seen = now
        elif time.ticks_diff(now, self._seen) >= IDLE_MS:
            self._seen = time.ticks_add(now, CLIMB_MS - IDLE_MS)
            self._step(1)
