# The HTTP server: a listening socket and a pool of connections, run by the camera's one loop.
#
# No loop of its own: its sockets are polled by rtspd's poller (RtspServer.watch(); rtspd
# calls on_poll() for their events and returns from poll() early when wants_frame() turns
# true), and lib/ipcam.py calls tick() every pass for the timers. Non-blocking sockets,
# buffers allocated once: a request costs its parsing, a frame costs one copy.
#
# Budget (the camera has 5 TCP connections in all, lwIP's PCBs): every response but an MJPEG
# stream closes its connection once written, a head must arrive within head_ms, a response
# that makes no progress for stall_ms is dropped, and the pool (max_conns) is small; when it
# is full a newcomer takes the place of a connection that has sent nothing yet, or gets 503.
import time
import select
from rtspd import service
from webd import conn as C
from webd import request as R
from webd import routes
from webd.frames import Frames
from rtspd import fast
from rtspd.auth import Auth

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLLBAD = select.POLLHUP | select.POLLERR
_TICK_MS = 200
_LINGER_MS = 300


class _Nonce:
    # Digest nonces for HTTP are the server's, not the connection's (rtspd's are per
    # connection): every response closes its connection, and a browser answers a challenge
    # on a new one. rtspd.auth.Auth reads and renews these two fields.
    nonce = None
    nonce_t = 0


class WebServer(service.Service):
    TAG = "webd: "

    def __init__(self, loop, port=80, auth="digest", user="admin", password=None,
                 realm="OpenMV RT1062", max_viewers=4, frame_max=262144, slots=2,
                 frame_ms=34, max_conns=None, head_ms=5000, stall_ms=5000, lag_ms=3000,
                 snap_ms=3000, nonce_ms=300000, page_dir=None, store=None, log=None):
        """loop: the RtspServer whose poller runs this server too. max_viewers: RTSP and
        MJPEG viewers together (rtsp.max_clients). frame_max/slots: the JPEG slots
        (webd.frames). frame_ms: one frame period (a snapshot is at most this old)."""
        self.loop = loop
        self.port = port
        self.max_viewers = max_viewers
        self.frame_ms = frame_ms
        self.head_ms = head_ms
        self.stall_ms = stall_ms
        self.lag_ms = lag_ms
        self.snap_ms = snap_ms
        self.page_dir = page_dir or _here()
        self.store = store
        self.on_event = None        # fn(name, arg): "first_play", "last_gone", "request",
        #                             "auth_failed" (client ip)
        self.take_still = None      # fn() -> bool: a still was asked for (POST /still)
        self.status = None          # fn() -> dict for /status.json
        self.viewers = 0            # MJPEG viewers now
        self.auth = Auth(auth, user, password, realm, nonce_ms)
        self.nonce = _Nonce()
        self.frames = Frames(slots, frame_max) if slots > 0 else None
        n = max_conns or max_viewers + 1
        self._conns = [C.Conn() for _ in range(n)]
        self._by_sock = {}
        self._lsock = None
        self._log = log
        self._tick_t = time.ticks_ms()
        self._up_ms = 0
        self.uptime_s = 0
        # counters: requests answered, refused (4xx/5xx), connections turned away (pool
        # full), dropped (timeouts, stalls, slow viewers cut), frames taken, frames not taken
        self.n = {"requests": 0, "errors": 0, "busy": 0, "dropped": 0, "frames": 0,
                  "no_slot": 0}

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, ip="0.0.0.0"):
        """Listen (again after stop()); call after the loop's own start(). OSError if the
        port cannot be bound."""
        if self._lsock is not None:
            self.stop()
        s = self._lsock = service.listen(ip, self.port, 2)
        self.loop.guest = self
        if not self.loop.watch(s, _POLLIN):
            self.stop()
            raise OSError(107)          # ENOTCONN: the RTSP server is not listening
        self._note("listening on %s:%d" % (ip, self.port))

    def stop(self):
        for c in self._conns:
            if c.sock is not None:
                self._close(c, "server stopped")
        if self._lsock is not None:
            self.loop.unwatch(self._lsock)
            service.close(self._lsock)
        self._lsock = None
        if self.frames is not None:
            self.frames.reset()

    # -- frames (from the camera loop) ------------------------------------------------------
    def wants_frame(self):
        """True when an MJPEG viewer or a snapshot waits for a frame and a slot can take it."""
        fr = self.frames
        if fr is None:
            return False
        for c in self._conns:
            if c.sock is not None and c.waiting():
                if fr.free() >= 0:
                    return True
                old = fr.oldest_busy()
                return old >= 0 and fr.age_ms(old, time.ticks_ms()) > self.lag_ms
        return False

    def send_frame(self, buf, n, ticks_ms):
        """Offer the JPEG buf[:n] captured at ticks_ms. False if it was not taken."""
        fr = self.frames
        if fr is None or not self.wants_frame():
            return False
        i = fr.free()
        if i < 0:
            i = self._reclaim()
            if i < 0:
                self.n["no_slot"] += 1
                return False
        if not fr.publish(i, buf, n, ticks_ms):
            self.n["no_slot"] += 1
            return False
        self.n["frames"] += 1
        for c in self._conns:
            if c.sock is None:
                continue
            if c.state == C.WAIT:
                routes.snapshot_ready(self, c, i)
            elif c.state == C.STREAM and c.cur < 0:
                c.start_frame(fr, i)
            else:
                continue
            self._update(c)
        return True

    def _reclaim(self):
        """The slot read for longest, taken from its viewers (closed) if older than lag_ms."""
        fr = self.frames
        old = fr.oldest_busy()
        if old < 0 or fr.age_ms(old, time.ticks_ms()) <= self.lag_ms:
            return -1
        for c in self._conns:
            if c.sock is not None and c.cur == old:
                self.n["dropped"] += 1
                self._close(c, "viewer %d ms behind" % self.lag_ms)
        return old if fr.readers[old] == 0 else -1

    # -- the loop's side --------------------------------------------------------------------
    def on_poll(self, sock, fl):
        if sock is self._lsock:
            self._accept()
            return
        c = self._by_sock.get(sock)
        if c is not None:
            self._event(c, fl)

    def tick(self):
        """Timers: call every pass of the camera loop (cheap: works every 200 ms)."""
        now = time.ticks_ms()
        d = time.ticks_diff(now, self._tick_t)
        if d < _TICK_MS:
            return
        self._tick_t = now
        self._up_ms += d
        if self._up_ms >= 1000:
            self.uptime_s += self._up_ms // 1000
            self._up_ms %= 1000
        for c in self._conns:
            if c.sock is None:
                continue
            st = c.state
            if st == C.READ and time.ticks_diff(now, c.t0) > self.head_ms:
                self.n["dropped"] += 1
                self._close(c, "no request within %d ms" % self.head_ms)
            elif st == C.LINGER and time.ticks_diff(now, c.t0) > _LINGER_MS:
                self._close(c, None)
            elif st == C.WAIT and time.ticks_diff(now, c.t0) > self.snap_ms:
                routes.error(self, c, 503, "no frame from the camera")
                self._update(c)
            elif c.has_output() and time.ticks_diff(now, c.prog_t) > self.stall_ms:
                self.n["dropped"] += 1
                self._close(c, "not reading for %d ms" % self.stall_ms)

    # -- connections ------------------------------------------------------------------------
    def _accept(self):
        try:
            sock, addr = self._lsock.accept()
        except OSError:
            return
        c = self._free_conn()
        if c is None:
            self.n["busy"] += 1
            try:
                sock.setblocking(False)
                sock.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
                           b"Connection: close\r\nRetry-After: 1\r\n\r\nbusy\n")
            except OSError:
                pass
            sock.close()
            return
        sock.setblocking(False)
        c.open(sock, addr[0], time.ticks_ms())
        self._by_sock[sock] = c
        c.mask = _POLLIN
        self.loop.watch(sock, _POLLIN)

    def _free_conn(self):
        """A free pool entry; when all are taken, one lingering after its answer, else the
        one waiting longest for its request head with nothing received, makes room (idle
        pre-connections and bursts of bad requests cannot lock us out)."""
        oldest = None
        for c in self._conns:
            if c.sock is None:
                return c
            if c.state == C.LINGER and (oldest is None or oldest.state != C.LINGER):
                oldest = c
            elif (c.state == C.READ and c.rxn == 0 and (oldest is None or oldest.state != C.LINGER)
                  and (oldest is None or time.ticks_diff(c.t0, oldest.t0) < 0)):
                oldest = c
        if oldest is not None:
            self._close(oldest, "making room")
        return oldest

    def _event(self, c, fl):
        try:
            if fl & _POLLIN:
                if not c.read():
                    self._close(c, None)
                    return
                if c.state == C.READ:
                    self._request(c)
            if c.sock is not None and (fl & _POLLOUT or c.out_len) and c.has_output():
                if c.send(self.frames):
                    self._done(c)
            if c.sock is not None and fl & _POLLBAD and not fl & _POLLIN:
                self._close(c, None)
                return
        except OSError as e:
            if e.args and e.args[0] == 11:      # EAGAIN
                pass
            else:
                self._close(c, None)
                return
        if c.sock is not None:
            self._update(c)

    def _done(self, c):
        """The response is out: close, or linger a moment after an error (closing with
        unread input would reset the connection and lose the answer)."""
        if c.linger:
            c.state = C.LINGER
            c.t0 = time.ticks_ms()
        else:
            self._close(c, None)

    def _update(self, c):
        if c.sock is None:
            return
        want = _POLLIN
        if c.has_output():
            want |= _POLLOUT
        if want != c.mask:
            c.mask = want
            self.loop.watch(c.sock, want)

    def _close(self, c, why):
        sock = c.sock
        if sock is None:
            return
        if why:
            self._note("%s: closed (%s)" % (c.ip, why))
        if self.frames is not None:
            c.release(self.frames)
        c.close_file()
        self._by_sock.pop(sock, None)
        self.loop.unwatch(sock)
        service.close(sock)
        viewer = c.viewer
        c.reset()
        if viewer:
            self.viewers -= 1
            if self.viewers == 0:
                self._emit("last_gone", why or "closed")

    # -- requests ---------------------------------------------------------------------------
    def _request(self, c):
        rx = c.rx
        hlen = fast.head_end(rx, c.rxn)
        if hlen < 0 or hlen > R.MAX_HEAD:
            if c.rxn >= R.MAX_HEAD or hlen > R.MAX_HEAD:
                routes.error(self, c, R.head_size_error(memoryview(rx)[0:R.MAX_LINE + 2]))
            return
        try:
            req = R.parse_head(bytes(memoryview(rx)[0:hlen]))
        except R.HttpError as e:
            routes.error(self, c, e.code, allow=e.allow)
            return
        if c.rxn < hlen + req.length:
            return                                  # the (small) body is still coming
        c.rxn = 0
        try:
            routes.handle(self, c, req)
        except Exception as e:                      # a bug costs one request, not the camera
            self._note("error handling %s %s: %r" % (req.method, req.path, e), True)
            if c.sock is not None and c.state in (C.READ, C.SEND) and not c.out_len:
                c.close_file()
                routes.error(self, c, 500)

    def add_viewer(self, c):
        c.viewer = True
        self.viewers += 1
        if self.viewers == 1:
            self._emit("first_play", None)

    def viewer_room(self):
        return self.viewers + self.loop.sessions_in_use() < self.max_viewers


    def stats(self):
        n = dict(self.n)
        n["viewers"] = self.viewers
        n["conns"] = sum(1 for c in self._conns if c.sock is not None)
        return n


def _here():
    try:
        return __file__.rsplit("/", 1)[0]
    except (NameError, AttributeError):
        return "lib/webd"
