# Frames shared by all viewers. Each JPEG is cut into RTP packets once, into one of a few
# preallocated slots; every viewer has its own cursor into a slot. The layout in a slot (from
# slot.base on) is what a TCP-interleaved viewer receives byte for byte ('$' header + RTP
# packet, repeated), so TCP viewers send long runs with one write(buf, off, n); UDP viewers
# send the same packets without the 4-byte '$' header. A slot is reused only when no viewer
# is in the middle of it, so a slow viewer finishes its frame while faster ones go on with
# newer frames; when it is done it jumps to the newest frame (skipping the ones in between).
import time
from rtspd import fast

PKT = 1400                  # RTP packet limit (fast.layout cuts at exactly this size)
STRIDE = PKT + 4            # bytes per packet in a slot, '$' header included
GEN_MASK = 0x3FFFFFF        # frame numbers stay small ints on a 32-bit camera


def slot_bytes(frame_max):
    """Bytes one slot needs for JPEGs up to frame_max bytes: every packet carries 28 bytes of
    headers, the first 132 more."""
    return frame_max + (frame_max // (PKT - 28) + 2) * 32 + 164


class Slot:
    def __init__(self, buf):
        self.buf = bytearray(buf) if isinstance(buf, int) else buf     # bytes, or a buffer
        self.wins = None        # memoryview windows of the plain-Python packetizer (_pyfast)
        self.qwins = None
        self.gen = -1           # frame number held (-1: nothing valid)
        self.base = 0           # where the first packet starts (0..3: see fast.layout)
        self.size = 0           # bytes used from base ('$' headers included)
        self.npk = 0            # packets
        self.last = 0           # RTP length of the last packet
        self.payload = 0        # RTP payload bytes (for the RTCP octet count)
        self.ticks = 0          # capture time (ticks_ms)
        self.readers = 0        # viewers in the middle of this frame
        self.taken = False      # some viewer started it


class Stream:
    def __init__(self, nslots, frame_max, alloc=None, stage=None):
        """`alloc(n)`: the slots' memory from the caller (a writable buffer of n bytes, e.g.
        frame-buffer memory outside the GC heap); default: bytearrays. `stage`: bytes of the
        staging copy (default: a whole JPEG; smaller ones are refilled as the packets go,
        see rtspd._pyfast)."""
        cap = slot_bytes(frame_max)
        self.slots = [Slot(alloc(cap) if alloc else cap) for _ in range(nslots)]
        for sl in self.slots:
            if len(sl.buf) < cap:
                raise ValueError("frame slot smaller than slot_bytes(frame_max)")
        if stage:
            fast.reserve(stage, True)
        else:
            fast.reserve(frame_max + 4096)      # header + scan: the whole JPEG
        self.cap = cap
        self.newest = -1
        self.gen = 0
        self.seq = 0            # next RTP sequence number (shared by every viewer)
        self.cuts = 0           # frames abandoned midway (viewer too far behind)
        self.on_done = None     # fn(gen, ticks, size): every viewer that took a frame has it

    def reset(self):
        self.newest = -1
        for sl in self.slots:
            sl.gen = -1
            sl.readers = 0
            sl.taken = False

    def free(self):
        """A slot no viewer is reading, preferring one that does not hold the newest frame."""
        best = -1
        for i in range(len(self.slots)):
            if self.slots[i].readers == 0:
                if i != self.newest:
                    return i
                best = i
        return best

    def oldest_busy(self):
        """The slot with readers that holds the oldest frame, or -1."""
        best = -1
        for i in range(len(self.slots)):
            sl = self.slots[i]
            if sl.readers and (best < 0 or time.ticks_diff(sl.ticks, self.slots[best].ticks) < 0):
                best = i
        return best

    def publish(self, idx, jpeg, info, p, tq, ticks):
        """Cut the JPEG described by `info` into slot `idx` (tq/p prepared by the caller)."""
        sl = self.slots[idx]
        if idx == self.newest:
            self.newest = -1
        sl.gen = -1
        p[0] = info.scan
        p[1] = info.scan_len
        p[2] = self.seq
        p[3] = 4 if info.dri else 0
        p[4] = info.dri
        p[5] = info.type
        p[6] = info.width >> 3
        p[7] = info.height >> 3
        p[8] = 0
        p[9] = len(sl.buf)
        p[13] = info.qt[info.qy]
        p[14] = info.qt[info.qc]
        p[15] = info.scan & 3   # payload and JPEG equally aligned: word copies
        fast.layout(sl, jpeg, p, tq)
        if p[10] < 0:
            raise ValueError("JPEG too large for the frame buffer (frame_max)")
        self.gen = (self.gen + 1) & GEN_MASK
        sl.gen = self.gen
        sl.npk = p[10]
        sl.base = p[15]
        sl.size = p[11]
        sl.last = sl.size - (sl.npk - 1) * STRIDE - 4
        sl.payload = sl.size - sl.npk * 16
        sl.ticks = ticks
        sl.readers = 0
        sl.taken = False
        self.newest = idx
        self.seq = p[12]

    def start(self, s):
        """Viewer s starts the newest frame."""
        idx = self.newest
        sl = self.slots[idx]
        sl.readers += 1
        sl.taken = True
        s.cur = idx
        s.pos = 0
        s.end = sl.size if s.tcp else sl.npk
        gap = (sl.gen - s.gen - 1) & GEN_MASK
        if s.gen >= 0 and gap < 1000:
            s.skipped += gap
        s.gen = sl.gen

    def finish(self, s):
        """Viewer s sent all of its frame; go on with a newer one if there is."""
        sl = self.slots[s.cur]
        sl.readers -= 1
        if sl.readers == 0 and self.on_done is not None:
            self.on_done(sl.gen, sl.ticks, sl.size)     # the app's rate control (ratecontrol)
        s.cur = -1
        s.frames += 1
        s.count(sl.npk, sl.payload)
        self.catch_up(s)

    def catch_up(self, s):
        """Start viewer s on the newest frame if it has not had it yet."""
        if self.newest >= 0 and self.slots[self.newest].gen != s.gen:
            self.start(s)

    def release(self, s, conn=None, p=None):
        """Take viewer s off its frame now. Over TCP a packet that is partly written is
        completed from conn.pend, so the interleaved byte stream stays well framed."""
        if s.cur < 0:
            return
        sl = self.slots[s.cur]
        if conn is not None and s.tcp and s.pos % STRIDE:
            end = (s.pos // STRIDE + 1) * STRIDE
            if end > sl.size:
                end = sl.size
            p[0] = 0
            p[1] = sl.base + s.pos
            p[2] = end - s.pos
            fast.copy(conn.pend, sl.buf, p)
            conn.pend_off = 0
            conn.pend_len = end - s.pos
        sl.readers -= 1
        s.cur = -1
