# The JPEG frames HTTP viewers read (MJPEG parts, snapshots): a few slots allocated once.
#
# Why a copy of its own: rtspd's slots hold the frame cut into RTP packets, headers between
# the payloads and no JPEG header at all, and its staging copy is rewritten every frame; the
# camera's buffer is only valid until the next capture. An HTTP viewer writes the whole JPEG
# over many passes of the loop, so the bytes must stay put that long: one slot per frame
# being read. Cost: `slots` x frame_max bytes (2 x 256 KB by default), only when HTTP is on.
#
# Policy (the same as rtspd's): each viewer has its own cursor; a slot is reused only when
# nobody is in the middle of it, so a slow viewer finishes its frame while the others go on
# with newer ones, then jumps to the newest (skipping those in between). When every slot is
# being read and a frame comes, the slot read for longest (older than lag_ms) is taken from
# its viewers; their connections close (an MJPEG part cannot be cut short).
#
# A frame is copied once, into the END of its slot: a slice assignment that ends at the end
# of the memoryview has no tail to move (MicroPython's mp_seq_replace_slice_no_grow memmoves
# everything after the slice), so the copy is one memcpy of the JPEG. The camera's
# img.bytearray() is exactly the JPEG (image_size() bytes: modules/py_image.c
# py_image_bytearray @v4.8.1), so nothing is allocated; a longer buffer costs one memoryview.
import time
from array import array

GEN_MASK = 0x3FFFFFF        # frame numbers stay small ints on a 32-bit camera


class Frames:
    def __init__(self, nslots, frame_max):
        self.cap = frame_max
        self.bufs = [bytearray(frame_max) for _ in range(nslots)]
        self.mvs = [memoryview(b) for b in self.bufs]
        self.n = nslots
        self.gen = array("i", [-1] * nslots)     # frame number held, -1: nothing valid
        self.off = array("i", [0] * nslots)      # where the JPEG starts in the slot
        self.size = array("i", [0] * nslots)     # JPEG bytes
        self.ticks = array("i", [0] * nslots)    # capture time (ticks_ms, < 2**30)
        self.readers = array("i", [0] * nslots)  # viewers in the middle of the slot
        self.newest = -1
        self.last_gen = 0

    def reset(self):
        self.newest = -1
        for i in range(self.n):
            self.gen[i] = -1
            self.readers[i] = 0

    def free(self):
        """A slot nobody is reading, preferring one that does not hold the newest frame."""
        best = -1
        for i in range(self.n):
            if self.readers[i] == 0:
                if i != self.newest:
                    return i
                best = i
        return best

    def oldest_busy(self):
        best = -1
        for i in range(self.n):
            if self.readers[i] and (best < 0 or
                                    time.ticks_diff(self.ticks[i], self.ticks[best]) < 0):
                best = i
        return best

    def age_ms(self, i, now):
        return time.ticks_diff(now, self.ticks[i])

    def publish(self, i, buf, n, ticks):
        """Copy the JPEG buf[:n] into slot i (nobody reads it). False if it does not fit."""
        if n > self.cap or n <= 0:
            return False
        if i == self.newest:
            self.newest = -1
        off = self.cap - n
        if len(buf) == n:
            self.mvs[i][off:self.cap] = buf
        else:
            self.mvs[i][off:self.cap] = memoryview(buf)[0:n]
        self.last_gen = (self.last_gen + 1) & GEN_MASK
        self.gen[i] = self.last_gen
        self.off[i] = off
        self.size[i] = n
        self.ticks[i] = ticks
        self.newest = i
        return True
