# How many bytes the streaming path may hand lwIP now, so that no write enters modlwip's
# blocking retry. What the camera's lwIP does (extmod/modlwip.c lwip_tcp_send, OpenMV's fork
# openmv-1.25.0 .. v1.28.0; extmod/lwip-include/lwipopts_common.h):
# - a write takes min(n, tcp_sndbuf) bytes, tcp_sndbuf being the 6400-byte TCP_SND_BUF less
#   what is unacknowledged; EAGAIN only when tcp_sndbuf is 0. poll() reports POLLOUT while
#   tcp_sndbuf > 0 (lwip_socket_ioctl). So each connection alone would queue 6400 bytes...
# - ...but every queued segment takes an 800-byte-MSS pbuf (about 880 bytes) from MEM_SIZE,
#   8000 bytes shared by all sockets. When tcp_write finds none it returns ERR_MEM and
#   lwip_tcp_send sleeps 50 ms and tries again, up to 200 times, even on a non-blocking
#   socket: the whole loop (capture, LED, watchdog) stops. Two viewers with full send
#   buffers need 14 KB.
# The app cannot see what lwIP still holds (no call reports tcp_sndbuf or free memory), so it
# keeps its own estimate: the bytes it handed over, drained at the link rate (600 kB/s up,
# the lwipopts_common.h note), at most CAP in flight over all viewers, shared out equally:
# each writer (a TCP or UDP viewer, an MJPEG viewer) has its own bucket of rate/n and CAP/n.
# One viewer alone is not paced: its 6400-byte send buffer takes 7040 bytes of the 8000
# (TCP_SND_BUF 8 segments of 880), so lwIP's own limit keeps it out of the retry; when a
# second one comes, nobody writes until that buffer can have drained.
# If the link is slower than assumed, a write that blocked shows it (it took >= 50 ms):
# the rate is halved, and creeps back up while writes return at once.
#
# Viewers that stop reading: what lwIP holds for them stays, and no socket call shows it
# (lwip_socket_ioctl and lwip_tcp_send tell only whether tcp_sndbuf is 0, i.e. whether 6400
# bytes = 7040 of the 8000 are queued on that one connection). Two viewers that stop at once,
# or one beside others with a segment or two in flight, fill the memory before any socket
# says so, and what they hold comes back only when they read again or their connection is
# closed: at once if they sent something the app did not read (tcp.c tcp_close_shutdown: a
# reset, tcp_pcb_purge), else by modlwip's close timeout 10 s later. docs/ARCHITECTURE.md,
# "Viewers that stop reading", has the argument and what it costs.
import time

CAP = 3200              # bytes in flight, all viewers: 4 full segments (3520 of 8000 bytes),
                        # the rest for a part-filled segment per viewer, responses, RTCP,
                        # UDP packets on their way out, and what waits for its ACK
MIN_CHUNK = 800         # TCP_MSS: writes come in whole segments (see take())
SND_BUF = 6400          # TCP_SND_BUF (lwipopts_common.h): what one viewer alone may queue
SLOW_MS = 40            # a write this long waited in modlwip's 50 ms retry
ACK_MS = 30             # a viewer alone: its send buffer drains in 6400 B / rate, plus the
                        # round trip of its last ACK and the 880-per-800-byte overhead
JAM_MS = 1000           # a write this long sat in modlwip's retry (20 x 50 ms): the memory is
                        # not coming back on its own (a 50-100 ms wait is a normal transition)
ENOMEM = 12             # modlwip gave up after its 200 retries (10 s): nothing was taken
HOLD_MS = 10500         # after ending viewers that held lwIP's memory: modlwip's close aborts
                        # a connection not cleanly closed by then (MICROPY_PY_LWIP_TCP_CLOSE_
                        # TIMEOUT_MS 10 s: tcp_poll(_lwip_tcp_close_poll, 20) of 500 ms ticks,
                        # extmod/modlwip.c lwip_socket_ioctl MP_STREAM_CLOSE), plus a tick
RST_MS = 100            # ...when each had unread input: tcp_close resets and frees at once
                        # (lwIP tcp.c tcp_close_shutdown: rcv_wnd != TCP_WND_MAX -> RST, purge)


class Writer:
    """One viewer's share: tokens (bytes it may write now) and when they were counted."""

    def __init__(self):
        self.tok = 0
        self.t = time.ticks_ms()


class Budget:
    def __init__(self, rate, log=None):
        self.top = rate         # the link rate as configured
        self.rate = rate        # as used now (lower after writes that blocked)
        self.n = 1              # writers sharing the link (set by the server every pass)
        self.viewers = 1        # viewers with a connection, flowing or not (likewise)
        self.blocked = 0        # writes that blocked (counted for stats)
        self.solo_t = 0         # ticks of the last write by a viewer alone (unpaced)
        self.jam = False        # a TCP write jammed (see jammed()): the server acts on it
        self.jams = 0
        self.hold_t = 0         # ticks when the hold ends (see hold())
        self.holding = False
        self._log = log

    def write(self, sock, buf, off, n, w=None):
        """sock.write(buf, off, n) for the streaming path: a write that jammed in lwIP is
        noted (jammed()), and ENOMEM returns 0: modlwip's tcp_write took nothing, so the
        stream's framing is intact and the same bytes go later (extmod/modlwip.c
        lwip_tcp_send). w: the viewer's share that the bytes are charged to (spent())."""
        t0 = time.ticks_ms()
        try:
            n = sock.write(buf, off, n)
        except OSError as e:
            if not self.jammed(t0, e.errno):
                raise
            return 0
        dt = time.ticks_diff(time.ticks_ms(), t0)      # read once: this runs per packet
        if dt >= JAM_MS:
            self._note_jam()
        if w is not None and n:
            self._charge(w, n, dt, False)
        return n

    def jammed(self, t0, err=0):
        """After a TCP write started at ticks t0 (err: the errno it raised, 0 if none): True
        if it jammed, i.e. sat >= JAM_MS in modlwip's ERR_MEM retry or gave up with ENOMEM.
        The memory is then held by viewers that stopped reading (docs/ARCHITECTURE.md)."""
        if err == ENOMEM or time.ticks_diff(time.ticks_ms(), t0) >= JAM_MS:
            self._note_jam()
            return True
        return False

    def _note_jam(self):
        if not self.jam:
            self.jams += 1
        self.jam = True

    def hold(self, ms):
        """Hand lwIP no TCP write for ms (the closed connections still hold its memory)."""
        self.hold_t = time.ticks_add(time.ticks_ms(), ms)
        self.holding = True

    def held(self):
        """True while TCP writes are held back (see hold())."""
        if self.holding and time.ticks_diff(self.hold_t, time.ticks_ms()) <= 0:
            self.holding = False
        return self.holding

    def take(self, w, want, paced=False):
        """Bytes writer w may write now (0..want); it must spend() what it wrote. paced: even
        alone (a UDP viewer: no send buffer holds its datagrams back, and a send that finds
        the radio's queue full waits in the driver, the whole loop with it)."""
        if not self.top:
            return want         # no pacing (a PC's loopback)
        if self.viewers <= 1 and not paced:
            self.solo_t = time.ticks_ms()
            return want         # alone: lwIP's send buffer is the limit (see above)
        if time.ticks_diff(time.ticks_ms(), self.solo_t) <= SND_BUF * 1000 // self.rate + ACK_MS:
            return 0            # what the viewer alone queued may still be in lwIP
        k = self._refill(w)
        if want <= k:
            return want
        # whole segments: a write that ends mid-segment leaves a pbuf of a whole MSS
        # (TCP_OVERSIZE) for a few bytes, and every viewer's would add up
        return k - k % MIN_CHUNK if k > 0 else 0

    def _refill(self, w):
        now = time.ticks_ms()
        dt = time.ticks_diff(now, w.t)
        n = self.n if self.n > 0 else 1
        cap = CAP // n
        if cap < MIN_CHUNK:
            cap = MIN_CHUNK
        if dt > 0:
            w.t = now
            if dt > 100:
                dt = 100        # small ints only (31 bits on the camera)
            w.tok += self.rate // n // 1000 * dt
        if w.tok > cap:         # also when more viewers came: their shares are smaller
            w.tok = cap
        return w.tok

    def spent(self, w, n, t0, paced=False):
        """w wrote n bytes in a call started at ticks t0 (paced: as given to take())."""
        self._charge(w, n, time.ticks_diff(time.ticks_ms(), t0), paced)

    def _charge(self, w, n, dt, paced):
        # spent(), the call having taken dt ms
        if not self.top:
            return
        if self.viewers > 1 or paced:
            w.tok -= n          # a viewer alone is not paced: what it wrote then is no debt
        if dt >= SLOW_MS:
            self.blocked += 1
            r = self.rate // 2
            self.rate = r if r > 50000 else 50000
            if self._log is not None:
                self._log.warning("rtspd: a write waited for lwIP's packet memory: "
                                  "link rate taken as %d B/s" % self.rate)
        elif self.rate < self.top:
            self.rate += 1 + ((self.top - self.rate) >> 5)  # back near the top within a second

    def wait_ms(self, w):
        """ms until w may write a segment's worth again (0: now)."""
        if not self.top or self.viewers <= 1:
            return 0
        if self._refill(w) >= MIN_CHUNK:
            return 0
        n = self.n if self.n > 0 else 1
        r = self.rate // n // 1000
        return 1 + (MIN_CHUNK - w.tok) // (r if r > 0 else 1)


LINK = Budget(0)        # one radio: rtspd and a guest server in its loop (lib/webd) share it
