# One HTTP connection: the request head read into a bounded buffer, then one response, then
# the connection closes (only an MJPEG stream stays open). Closing after each response keeps
# the camera's 5 TCP connections (lwIP's PCBs) free for RTSP viewers: a browser's idle
# keep-alive connections would otherwise hold them.
#
# Buffers are allocated once per pool entry and reused. The body of a response comes from
#   a buffer          bytes made for this request (listing, status) or a constant
#   a file            read in chunks into `out` (never whole), e.g. a still or the page
#   a frame slot      the JPEG of a snapshot, written from the slot where it lies
# and an MJPEG viewer writes, per frame, a part header (digits written into a template: no
# string per frame) and the JPEG straight from its slot: write(buf, off, n), no slices.
# Its frames share the radio with rtspd's viewers: they go out as rtspd.budget allows, so
# that no write waits in lwIP's blocking retry for packet memory.
import time
from rtspd.budget import LINK, Writer

RX_CAP = 2048 + 256     # request head (request.MAX_HEAD) + a small body
OUT_CAP = 2048          # response head, then file chunks

# states
FREE, READ, SEND, STREAM, WAIT, LINGER = 0, 1, 2, 3, 4, 5
# body kinds
NONE, BUF, FILE, SLOT = 0, 1, 2, 3

_PART = b"\r\n--frame\r\nContent-Type: image/jpeg\r\nContent-Length:        \r\n\r\n"
_DIGITS_END = len(_PART) - 4        # the length's digits end here, right-aligned
_DIGITS = 7                         # up to 9999999 bytes


class Conn:
    def __init__(self):
        self.rx = bytearray(RX_CAP)
        self.out = bytearray(OUT_CAP)
        self.part = bytearray(_PART)
        self.w = Writer()               # its share of the link (rtspd.budget)
        self.sock = None
        self.reset()

    def reset(self):
        self.sock = None
        self.ip = ""
        self.state = FREE
        self.rxn = 0
        self.out_off = 0
        self.out_len = 0
        self.kind = NONE
        self.body = None
        self.body_off = 0
        self.left = 0           # body bytes still to send (buffer, file, slot)
        self.file = None
        self.cur = -1           # frame slot being written (snapshot, MJPEG), -1: none
        self.pos = 0
        self.end = 0
        self.gen = -1           # last frame number started (MJPEG)
        self.frames = 0
        self.part_off = 0
        self.part_len = 0
        self.first = True
        self.t0 = 0             # accept, or start of the current wait (ticks_ms)
        self.prog_t = 0         # last write progress
        self.mask = 0
        self.viewer = False     # counted in the server's viewers
        self.linger = False     # an error answer: linger before closing (unread input)

    def open(self, sock, ip, now):
        self.reset()
        self.sock = sock
        self.ip = ip
        self.state = READ
        self.t0 = self.prog_t = now

    def close_file(self):
        f = self.file
        self.file = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    # -- input ------------------------------------------------------------------------------
    def read(self):
        """Read what is there (discarded unless a head is being read). False: peer closed."""
        if self.state == READ and self.rxn < RX_CAP:
            n = self.sock.readinto(memoryview(self.rx)[self.rxn:])
            if n is None:
                return True
            if n == 0:
                return False
            self.rxn += n
            return True
        n = self.sock.readinto(self.rx)     # nothing more is expected: discard
        return n is None or n > 0

    # -- output -----------------------------------------------------------------------------
    def head(self, text):
        """Queue a response head (str) in `out`; the body is set up by the caller."""
        b = text.encode()
        n = len(b)
        if n > OUT_CAP:
            raise ValueError("response head too long")
        self.out[0:n] = b
        self.out_off = 0
        self.out_len = n
        self.state = SEND

    def body_buf(self, buf, off, n):
        self.kind = BUF
        self.body = buf
        self.body_off = off
        self.left = n

    def body_file(self, f, n):
        self.kind = FILE
        self.file = f
        self.left = n

    def has_output(self):
        if self.out_len or self.part_len:
            return True
        if self.state == SEND:
            return self.left > 0 or self.kind == NONE
        return self.state == STREAM and self.cur >= 0

    def send(self, frames):
        """Write what the socket takes. Returns True when the response is complete (the
        caller closes). OSError for a broken connection."""
        sock = self.sock
        while True:
            if self.out_len:
                n = sock.write(self.out, self.out_off, self.out_len)
                if not n:
                    return False
                self.out_off += n
                self.out_len -= n
                self.prog_t = time.ticks_ms()
                continue
            if self.state == STREAM:
                if not self._stream(sock, frames):
                    return False
                continue
            if self.left <= 0:
                return self.state == SEND
            k = self.kind
            if k == FILE:
                want = self.left if self.left < OUT_CAP else OUT_CAP
                got = self.file.readinto(self.out, want)
                if not got:
                    raise OSError(5)            # the file ended early (or the card went)
                self.out_off = 0
                self.out_len = got
                self.left -= got
                continue
            if k == SLOT:
                buf, off = frames.bufs[self.cur], self.pos
            else:
                buf, off = self.body, self.body_off
            n = sock.write(buf, off, self.left)
            if not n:
                return False
            self.prog_t = time.ticks_ms()
            self.left -= n
            if k == SLOT:
                self.pos += n
            else:
                self.body_off += n

    def _stream(self, sock, frames):
        """One step of an MJPEG viewer; False when the socket is full or no frame is ready."""
        if self.part_len:
            n = sock.write(self.part, self.part_off, self.part_len)
            if not n:
                return False
            self.part_off += n
            self.part_len -= n
            self.prog_t = time.ticks_ms()
            return True
        if self.cur < 0:
            return False
        k = LINK.take(self.w, self.end - self.pos)
        if not k:
            return False        # the poller comes back within a millisecond
        n = LINK.write(sock, frames.bufs[self.cur], self.pos, k, self.w)
        if not n:
            return False
        self.prog_t = time.ticks_ms()
        self.pos += n
        if self.pos >= self.end:
            frames.readers[self.cur] -= 1
            self.cur = -1
            self.frames += 1
            self.catch_up(frames)
        return True

    def start_frame(self, frames, i):
        """Begin writing frame slot i: an MJPEG part, or a snapshot's body."""
        frames.readers[i] += 1
        self.cur = i
        self.pos = frames.off[i]
        self.gen = frames.gen[i]
        if self.state == STREAM:
            self.end = self.pos + frames.size[i]
            self._part_header(frames.size[i])
        else:
            self.kind = SLOT
            self.left = frames.size[i]

    def catch_up(self, frames):
        """An MJPEG viewer that has written its frame starts the newest if it is new to it."""
        nw = frames.newest
        if nw >= 0 and frames.gen[nw] != self.gen:
            self.start_frame(frames, nw)

    def release(self, frames):
        if self.cur >= 0:
            frames.readers[self.cur] -= 1
            self.cur = -1

    def _part_header(self, n):
        p = self.part
        i = _DIGITS_END
        for _ in range(_DIGITS):
            i -= 1
            if n or i == _DIGITS_END - 1:
                p[i] = 48 + n % 10
                n //= 10
            else:
                p[i] = 32
        self.part_off = 2 if self.first else 0     # no CRLF before the first boundary
        self.part_len = len(p) - self.part_off
        self.first = False

    def waiting(self):
        """Waiting for a new frame: an idle MJPEG viewer, or a snapshot."""
        return (self.state == STREAM and self.cur < 0) or self.state == WAIT
