# The RTSP server: one listening socket, a pool of connections, a pool of sessions, frames
# shared by every viewer (rtspd.stream), RTCP sender reports, timeouts and events.
#
# Why select.poll + ipoll and not asyncio: on the camera every await allocates (a generator
# frame, a task wake-up, stream buffers per read), and the streaming path sends thousands of
# packets a second; the GC pauses that causes stall capture. ipoll() returns one reused tuple
# per event and the sockets are non-blocking, so a whole pass allocates nothing while frames
# flow. The camera's capture loop (main.py) calls poll(timeout_ms) between frames.
import time
try:
    from os import urandom
except ImportError:     # firmware 4.5.0-4.5.2 (MicroPython 1.20): no os.urandom; timing jitter
    from entropy import random_bytes as urandom
import select
from rtspd import service
import struct
from array import array
from rtspd import fast
from rtspd import jpeg
from rtspd import handlers
from rtspd.auth import Auth
from rtspd.conn import Conn
from rtspd.request import response
from rtspd.clock import RtpClock, WallClock
from rtspd.rtcp import sender_report, is_bye
from rtspd.session import Session, PLAYING, PAUSED, READY
from rtspd.stream import Stream, STRIDE
from rtspd import budget as _budget

_POLLIN = select.POLLIN
_POLLOUT = select.POLLOUT
_POLLBAD = select.POLLHUP | select.POLLERR
_HOUSEKEEP_MS = 200
# lwIP's pools on the camera (lwIP opt.h MEMP_NUM_TCP_PCB default, not set by OpenMV's
# lwipopts_common.h): 5 TCP connections in all, RTSP and HTTP together; a listening socket
# gives its PCB back for one of the 8 listen PCBs (tcp.c tcp_listen_with_backlog_and_err).
# A 6th incoming connection finds no PCB: lwIP drops its SYN and the client retries.
TCP_PCBS = 5
_AHEAD_MS = 40         # capture the next frame when the current one is this close to sent: a
                        # snapshot takes up to a sensor frame (33 ms at 30 fps)
_RR_MS = 20000          # a UDP viewer that sent receiver reports and stopped is gone
_STUCK_MS = 100         # a TCP viewer that wrote nothing this long gives up its frame (a
                        # healthy one writes a segment every few ms, see rtspd.budget)


def _rand32():
    return struct.unpack("<I", urandom(4))[0]


class RtspServer(service.Service):
    TAG = "rtspd: "

    def __init__(self, port=554, path="/stream", max_clients=4, auth="digest", user="admin",
                 password=None, realm="OpenMV RT1062", session_timeout=60, width=1280,
                 height=720, fps=30, log=None, expire_ms=None, idle_ms=20000, stall_ms=5000,
                 lag_ms=1000, rtp_port=6970, frame_max=262144, slots=2, udp_burst=16,
                 max_conns=None, sr_ms=5000, nonce_ms=300000, alloc=None, stage=None,
                 link_rate=0):
        """RTSP server for one MJPEG stream. Beyond the main settings (see the README):
        expire_ms   session expiry after the last request/RTCP (default session_timeout + 5 s)
        idle_ms     a connection without a session that completes no request is closed
        stall_ms    a viewer whose socket takes nothing for this long is dropped
        lag_ms      a viewer this far behind may be cut mid-frame when a frame slot is needed
        rtp_port    first UDP server_port (pairs rtp_port, rtp_port + 1, ... per session)
        frame_max   largest JPEG (bytes) that fits a frame slot; `slots` slots are allocated
        udp_burst   UDP packets per viewer per pass (pacing: the WiFi driver has few buffers)
        alloc       alloc(n) -> a writable buffer of n bytes for the frame slots and the
                    connections' buffers (e.g. frame-buffer memory outside the GC heap);
                    default: bytearray
        stage       bytes of the staging copy of a JPEG (default: frame_max + 4096; smaller
                    ones, >= 4096, are refilled as the packets are cut)
        link_rate   bytes/s the camera's WiFi link takes (rtspd.budget: what is handed to
                    lwIP; the app passes 600000); 0: no pacing, no lwIP limits (a PC)
        """
        if not path.startswith("/"):
            path = "/" + path
        self.port = port
        self.path = path.rstrip("/") or "/"
        if link_rate and max_clients > TCP_PCBS - 1:
            # one PCB stays free, so a player's next connection or the web page gets in
            self._log = log
            self._note("max_clients %d: the camera holds %d TCP connections; %d viewers"
                       % (max_clients, TCP_PCBS, TCP_PCBS - 1), True)
            max_clients = TCP_PCBS - 1
        self.max_clients = max_clients
        self.realm = realm
        self.session_timeout = session_timeout
        self.width = width
        self.height = height
        self.fps = fps
        self.expire_ms = expire_ms if expire_ms is not None else (session_timeout + 5) * 1000
        self.idle_ms = idle_ms
        self.stall_ms = stall_ms
        self.lag_ms = lag_ms
        self.rtp_port = rtp_port
        self.udp_burst = udp_burst
        self.sr_ms = sr_ms
        self.on_event = None
        self.guest = None           # a second server sharing this loop (lib/webd): see watch()
        self.frame_max = frame_max
        self.get_param = None       # fn(key) -> str or None: GET_PARAMETER values (debug hook)
        self.playing = 0
        self._log = log
        self._auth = Auth(auth, user, password, realm, nonce_ms)
        if auth == "none":
            self._note("authentication is OFF: anyone on the network can watch", True)
        nconn = max_conns or max_clients * 2 + 2
        self._conns = [Conn(alloc or bytearray) for _ in range(nconn)]
        self._sessions = [Session() for _ in range(max_clients)]
        self._budget = _budget.LINK
        self._budget.top = self._budget.rate = link_rate
        self._budget._log = log
        self._uw = [_budget.Writer() for _ in range(max_clients)]   # UDP viewers' shares
        self._rr = array("i", [-1] * max_clients)   # ticks of a UDP viewer's last RTCP (-1: none)
        self._starved = False       # a TCP viewer waits for the link budget
        self._held = False          # TCP writes held after a jam (see _unjam)
        self._udp_err = 503         # why the last UDP SETUP failed (see _bind_udp)
        self._stream = Stream(slots, frame_max, alloc, stage)
        self._p = array("i", [0] * 16)          # parameter block for rtspd.fast
        self._info = jpeg.JpegInfo()
        self._tq = bytearray(12)                # RTP timestamp + SSRC at 4..12
        self._sr = bytearray(128)
        self._udp_rx = bytearray(1500)
        nev = nconn + 2 * max_clients + 1
        self._ev_obj = [None] * nev
        self._ev_fl = array("i", [0] * nev)
        self._by_sock = {}
        self._poller = None
        self._lsock = None
        self._ip = "0.0.0.0"
        self._clock = WallClock()
        self._viewers = 0
        self._udp_busy = False
        self._hk_t = time.ticks_ms()
        self._sdp_id = _rand32() & 0x3FFFFFFF
        self._ssrc = _rand32()
        struct.pack_into(">I", self._tq, 8, self._ssrc)
        self._stream.seq = _rand32() & 0xFFFF   # random first RTP sequence number
        self._rtp = RtpClock(_rand32(), time.ticks_ms())   # random first timestamp
        self._cname = b"rtspd@camera"
        # counters for stats(): frames published, refused (bad JPEG), not taken (no slot);
        # viewers dropped (not reading), timed out; connections accepted, refused (full);
        # frames sent / skipped by viewers that have gone (the live ones are added in stats())
        self._n = {"frames": 0, "refused": 0, "no_slot": 0, "drops": 0, "timeouts": 0,
                   "conns": 0, "busy": 0, "sent": 0, "skipped": 0}

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, ip="0.0.0.0"):
        """Bind the RTSP listener (again after stop(), e.g. when WiFi came back)."""
        if self._lsock is not None:
            self.stop()
        self._ip = ip
        if ip and ip != "0.0.0.0":
            self._cname = ("rtspd@" + ip).encode()
        s = self._lsock = service.listen(ip, self.port, 4)
        self._poller = select.poll()
        self._poller.register(s, _POLLIN)
        self._clock.tick()
        self._note("listening on %s:%d%s" % (ip, self.port, self.path))

    def stop(self):
        """Close every socket and end every session."""
        for c in self._conns:
            if c.sock is not None:
                self._close(c, "server stopped")
        for s in self._sessions:
            if s.id is not None:
                self._end_session(s, "server stopped")
        if self._lsock is not None:
            service.close(self._lsock)
        self._lsock = None
        self._poller = None
        self._by_sock = {}
        self._stream.reset()
        self._udp_busy = False

    # -- the application's side -----------------------------------------------------------
    def wants_frame(self):
        """True when a viewer is playing and a frame can be taken now."""
        if not self.playing:
            return False
        st = self._stream
        idle = False
        for s in self._sessions:
            if s.state == PLAYING and s.cur < 0 and not s.wait_out:
                idle = True
                break
        nw = st.newest
        if not idle and nw >= 0 and not st.slots[nw].taken:
            return False        # the newest frame still waits for a viewer: do not skip it
        if st.free() >= 0:
            return idle or self._nearly_sent()
        if idle:
            old = st.oldest_busy()
            if old >= 0 and time.ticks_diff(time.ticks_ms(), st.slots[old].ticks) > self.lag_ms:
                return True
            return self._stuck_slot() >= 0
        return False

    def _nearly_sent(self):
        """Every viewer is within _AHEAD_MS of the end of its frame at its share of the link.
        A frame captured earlier would wait for the one before it: the latency from capture
        to the last byte would be two transfers instead of one (measured: 232 ms median at
        10 fps on 600 kB/s). Capturing this little ahead keeps the link busy meanwhile."""
        b = self._budget
        if not b.top:
            return True         # no link budget (a PC's loopback): capture as soon as a slot frees
        n = b.n if b.n > 0 else 1
        ahead = b.rate // n // 1000 * _AHEAD_MS
        st = self._stream
        for s in self._sessions:
            if s.state != PLAYING or s.cur < 0 or s.wait_out:
                continue
            left = s.end - s.pos
            if not s.tcp:       # UDP: packets left, about STRIDE bytes each
                left *= STRIDE
            if left > ahead:
                return False
        return True

    def _stuck_slot(self):
        """A busy slot whose every reader is stuck (see Conn.stuck), or -1."""
        now = time.ticks_ms()
        st = self._stream
        for i in range(len(st.slots)):
            if not st.slots[i].readers:
                continue
            for s in self._sessions:
                if s.cur == i and not (s.tcp and s.conn is not None and
                                       s.conn.stuck(now, _STUCK_MS)):
                    break
            else:
                return i
        return -1

    def send_frame(self, buf, length, ticks_ms):
        """Send the JPEG in buf[:length], captured at ticks_ms, to every playing viewer.
        ValueError if RFC 2435 cannot carry it. False if the frame was not taken."""
        fast.stage(buf, length)         # the plain-Python path reads the frame from a stage
        try:
            return self._send_frame(buf, length, ticks_ms)
        finally:
            fast.unstage()

    def _send_frame(self, buf, length, ticks_ms):
        info = self._info
        try:
            jpeg.parse(buf, length, info)
        except ValueError:
            self._n["refused"] += 1
            raise
        if not self.playing:
            return False
        st = self._stream
        idx = st.free()
        if idx < 0:
            idx = self._reclaim()
            if idx < 0:
                self._n["no_slot"] += 1
                return False
        tq = self._tq
        struct.pack_into(">I", tq, 4, self._rtp.frame(ticks_ms))
        st.publish(idx, buf, info, self._p, tq, ticks_ms)
        self._n["frames"] += 1
        for s in self._sessions:
            if s.state == PLAYING and s.cur < 0 and not s.wait_out:
                st.start(s)
                self._wake(s)
        return True

    def on_frame_sent(self, fn):
        """fn(gen, ticks_ms, size) once every viewer that took a frame has written its last
        byte (capture ticks as given to send_frame; size in bytes on the wire)."""
        self._stream.on_done = fn

    def stats(self):
        n = dict(self._n)
        n["clients"] = sum(1 for c in self._conns if c.sock is not None)
        n["sessions"] = sum(1 for s in self._sessions if s.id is not None)
        n["playing"] = self.playing
        n["sent"] += sum(s.frames for s in self._sessions if s.id is not None)
        n["skipped"] += sum(s.skipped for s in self._sessions if s.id is not None)
        n["cut"] = self._stream.cuts
        n["blocked"] = self._budget.blocked     # writes that waited for lwIP's memory
        n["jams"] = self._budget.jams           # writes that jammed (see _unjam)
        return n

    def poll(self, timeout_ms=0):
        """Network I/O for at most timeout_ms (0: only what is ready now). Returns early when
        a frame becomes wanted, so the capture loop can take it."""
        if self._poller is None:
            if timeout_ms > 0:
                time.sleep_ms(timeout_ms)
            return
        t0 = time.ticks_ms()
        wanted = self._wanted()
        g = self.guest
        while True:
            gv = g.viewers if g is not None else 0
            self._budget.n = self._flowing() + gv
            self._budget.viewers = self.playing + gv
            if self._held and not self._budget.held():
                self._unhold()
            if self._starved:
                self._resume()
            if self._budget.jam:
                self._unjam()
            if self._udp_busy:
                self._pump_udp()
            left = timeout_ms - time.ticks_diff(time.ticks_ms(), t0)
            if left < 0:
                left = 0
            if (self._udp_busy or self._starved) and left > 1:
                left = 1        # pace: the link budget refills by the millisecond
            n = self._collect(left)
            if n:
                self._dispatch(n)
            if self._budget.jam:
                self._unjam()
            self._clock.tick()      # cheap unless a second edge of the RTC is due
            self._housekeep()
            if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
                return
            if not wanted and self._wanted():
                return

    def _wanted(self):
        g = self.guest
        return self.wants_frame() or (g is not None and g.wants_frame())

    # -- a guest server in this loop (lib/webd, HTTP) ----------------------------------------
    # The camera has one loop: a second server registers its sockets in this poller instead
    # of waiting in a select.poll() of its own. Its object (self.guest) provides
    # on_poll(sock, flags) for their events, wants_frame() (poll() returns early for it too)
    # and viewers (counted against max_clients). stop() and start() drop its sockets: it
    # registers them again after each start().
    def watch(self, sock, mask):
        """Poll a guest socket for `mask` (register it, or change its mask). False when
        this server is not listening (no poller)."""
        if self._poller is None:
            return False
        if sock in self._by_sock:
            self._poller.modify(sock, mask)
            return True
        self._poller.register(sock, mask)
        self._by_sock[sock] = self.guest
        if len(self._by_sock) + 1 > len(self._ev_obj):    # room for every event of a pass
            self._ev_obj.append(None)
            self._ev_fl.append(0)
        return True

    def unwatch(self, sock):
        if self._by_sock.pop(sock, None) is not None and self._poller is not None:
            try:
                self._poller.unregister(sock)
            except (OSError, ValueError, KeyError):
                pass

    def full(self):
        """Every viewer place is taken: RTSP sessions and the guest's viewers (max_clients)."""
        g = self.guest
        return self.sessions_in_use() + (g.viewers if g is not None else 0) >= self.max_clients

    def refuse_full(self, conn, cseq):
        """A newcomer (no session on this connection) asking for the stream when the server
        is full: 503, and the connection closes once the answer is out (see Conn.closing),
        so that its TCP PCB (the camera has 5, TCP_PCBS) is there for the next one. True if
        refused. Players show it: ffmpeg "method DESCRIBE failed: 503 Service Unavailable"."""
        if conn.session is not None or not self.full():
            return False
        self._n["busy"] += 1
        self._note("full (%d viewers): %s refused" % (self.max_clients, conn.ip))
        conn.queue(response(503, cseq))
        conn.closing = True
        conn.rxn = 0            # what else it sent is read and dropped: see Conn.read
        return True

    def sessions_in_use(self):
        """RTSP sessions set up or playing (the guest counts them against max_clients)."""
        n = 0
        for s in self._sessions:
            if s.id is not None:
                n += 1
        return n

    # -- event loop -----------------------------------------------------------------------
    def _collect(self, wait):
        # events are copied out first: handling them may unregister sockets, which must not
        # happen while the poller is being iterated
        n = 0
        cap = len(self._ev_obj)
        for obj, fl in self._poller.ipoll(wait):
            if n < cap:
                self._ev_obj[n] = obj
                self._ev_fl[n] = fl
                n += 1
        return n

    def _dispatch(self, n):
        for i in range(n):
            obj = self._ev_obj[i]
            fl = self._ev_fl[i]
            self._ev_obj[i] = None
            if obj is self._lsock:
                self._accept()
                continue
            h = self._by_sock.get(obj)
            if h is None:
                continue
            if isinstance(h, Conn):
                self._conn_event(h, fl)
            elif isinstance(h, Session):
                self._udp_event(h, obj)
            else:
                self._guest_event(h, obj, fl)

    def _conn_event(self, c, fl):
        try:
            if fl & _POLLIN:
                if not c.read():
                    self._close(c, "closed by peer")
                    return
                c.process(self)
            if c.sock is not None and (fl & _POLLOUT or c.out_len):
                c.send(self._stream, self._budget, fl & _POLLOUT)
                if c.rxn and c.sock is not None:    # requests held back while output was full
                    c.process(self)
                    if c.sock is not None:
                        c.send(self._stream, self._budget)
            if c.sock is not None and fl & _POLLBAD and not fl & _POLLIN:
                self._close(c, "connection error")
                return
        except OSError as e:
            if e.errno != 11:
                self._close(c, "socket error %s" % e.errno)
                return
            c.full = True           # EAGAIN raised rather than returned (unix port)
        if c.sock is not None:
            if c.closing and not c.out_len and not c.pend_len and c.linger_t == -1:
                c.linger_t = time.ticks_ms()
            self._update(c)

    def _guest_event(self, g, sk, fl):
        try:
            g.on_poll(sk, fl)
        except Exception as e:      # the guest's bug must not take RTSP down
            self._note("guest on_poll failed: %r" % e, True)

    def _udp_event(self, s, sk):
        try:
            n = sk.readinto(self._udp_rx)
        except OSError:
            return              # e.g. ICMP port unreachable reported on a connected socket
        if n:
            s.alive()
            if sk is s.rtcp:
                self._rr[self._sessions.index(s)] = time.ticks_ms()
                if is_bye(self._udp_rx, n):
                    self._end_session(s, "RTCP BYE")

    def _update(self, c):
        want = 0
        if c.rxn < len(c.rx):
            want = _POLLIN
        if c.has_output() and (not c.starved or c.out_len or c.pend_len) and not self._held:
            want |= _POLLOUT
        if c.starved:
            self._starved = True    # poll() resumes it when the budget has refilled
        if want != c.mask:
            c.mask = want
            self._poller.modify(c.sock, want)

    def _unjam(self):
        """A TCP write jammed (rtspd.budget.jammed): lwIP's packet memory is full and not
        coming back on its own, held by viewers that stopped reading. End the TCP viewers
        whose socket shows no POLLOUT (tcp_sndbuf 0: 6400 bytes of it queued there): they
        made no progress. When none does (two viewers that stop at once fill the memory
        before either send buffer is full: docs/ARCHITECTURE.md), nothing tells the stopped
        ones from the healthy ones but a write, and every write would sit in modlwip's 10 s
        retry again (two in a row measured 20-26 s of stalled loop, near the watchdog): end
        every playing TCP viewer instead; players that reconnect are back once the memory is
        free. Then no TCP write until what the ended connections hold is free (rtspd.budget
        HOLD_MS, RST_MS). The camera loop goes on meanwhile."""
        b = self._budget
        b.jam = False
        fl = self._tcp_viewer_flags()
        full = [c for c in fl if not fl[c] & _POLLOUT]
        ended = full or list(fl)
        if not ended:
            self._note("lwIP's packet memory jammed with no TCP viewer playing", True)
            b.hold(2 * _HOUSEKEEP_MS)
            return
        # unread input: the close resets and frees at once (see rtspd.budget RST_MS); it is
        # not read first
        rst = True
        names = []
        for c in ended:
            rst = rst and bool(fl[c] & _POLLIN)
            names.append("%s (session %s..)" % (c.ip, c.session.id[:4]))
            self._n["drops"] += 1
            self._close(c, "lwIP's packet memory jammed")
        now = time.ticks_ms()
        for c in self._conns:
            if c.sock is not None:
                c.prog_t = now      # the jam stopped everyone: no stall counted for it
        ms = _budget.RST_MS if rst else _budget.HOLD_MS
        self._note("lwIP's packet memory jammed by viewers that stopped reading: ended %s%s; "
                   "streaming resumes in %d ms" % (", ".join(names), "" if full else
                                                   " (none showed which)", ms), True)
        b.hold(ms)
        self._held = True
        for c in self._conns:
            if c.sock is not None:
                self._update(c)

    def _tcp_viewer_flags(self):
        """{conn: poll flags} of the playing TCP viewers (the jam path only: allocates)."""
        p = select.poll()
        by = {}
        for c in self._conns:
            s = c.session
            if c.sock is not None and s is not None and s.tcp and s.state == PLAYING:
                p.register(c.sock, _POLLIN | _POLLOUT)
                by[c.sock] = c
        fl = {c: 0 for c in by.values()}
        for sk, f in p.poll(0):
            if sk in by:
                fl[by[sk]] = f
        return fl

    def _unhold(self):
        self._held = False
        self._note("streaming resumed after the jam")
        now = time.ticks_ms()
        for c in self._conns:
            if c.sock is not None:
                c.prog_t = now      # nothing was written to anyone during the hold
                self._update(c)

    def _flowing(self):
        # viewers sharing the link: a TCP viewer whose socket takes nothing gets no share
        n = 0
        for s in self._sessions:
            if s.state == PLAYING and not (s.tcp and s.conn is not None and s.conn.full):
                n += 1
        return n

    def _resume(self):
        # TCP viewers that stopped for the link budget (their POLLOUT is off meanwhile, or
        # the poller would spin): each writes again as its share refills
        self._starved = False
        for c in self._conns:
            if c.sock is None or not c.starved:
                continue
            if self._budget.wait_ms(c.w):
                self._starved = True
                continue
            try:
                c.send(self._stream, self._budget)
            except OSError as e:
                if e.errno != 11:
                    self._close(c, "socket error %s" % e.errno)
                    continue
                c.full = True
            self._update(c)

    def _wake(self, s):
        if s.tcp:
            c = s.conn
            if c is not None and c.sock is not None:
                self._update(c)
        else:
            self._udp_busy = True

    def _pump_udp(self):
        busy = False
        st = self._stream
        bud = self._budget
        for i in range(len(self._sessions)):
            s = self._sessions[i]
            if s.cur >= 0 and not s.tcp:
                w = self._uw[i]
                k = bud.take(w, STRIDE * self.udp_burst, True)
                if k:
                    k = k // STRIDE if k >= STRIDE else 1   # a share under a packet: one, as debt
                    t0 = time.ticks_ms()
                    sent = s.send_udp(st.slots[s.cur], k)
                    if sent > 0:
                        bud.spent(w, sent * STRIDE, t0, True)
                if s.pos >= s.end:
                    st.finish(s)
                busy = busy or s.cur >= 0
        self._udp_busy = busy

    def _accept(self):
        try:
            sock, addr = self._lsock.accept()
        except OSError:
            return
        c = self._free_conn()
        if c is None:
            self._n["busy"] += 1
            try:
                sock.setblocking(False)
                sock.write(response(503, None))
            except OSError:
                pass
            sock.close()
            return
        sock.setblocking(False)
        c.open(sock, addr[0])
        c.mask = _POLLIN
        self._poller.register(sock, _POLLIN)
        self._by_sock[sock] = c
        self._n["conns"] += 1

    def _free_conn(self):
        """A free connection slot; when all are taken, the one without a session that has
        been quiet longest is closed for the newcomer (idle connections cannot lock us out)."""
        oldest = None
        for c in self._conns:
            if c.sock is None:
                return c
            if c.session is None and (oldest is None or
                                      time.ticks_diff(c.req_t, oldest.req_t) < 0):
                oldest = c
        if oldest is not None:
            self._close(oldest, "making room for a new connection")
        return oldest

    def _close(self, c, why):
        if c.session is not None:
            self._end_session(c.session, why, closing=True)
        sock = c.sock
        if sock is None:
            return
        self._by_sock.pop(sock, None)
        try:
            self._poller.unregister(sock)
        except (OSError, ValueError, KeyError, AttributeError):
            pass
        service.close(sock)
        c.reset()

    # -- requests (called by Conn) ----------------------------------------------------------
    def _request(self, conn, req):
        try:
            handlers.handle(self, conn, req)
        except Exception as e:      # a bug must cost one request, never the camera
            self._note("error handling %s: %r" % (req.method, e), True)
            conn.queue(response(500, req.cseq))

    def _bad(self, conn, e):
        conn.queue(response(e.code, e.cseq))
        if e.close:
            conn.closing = True
            conn.rxn = 0        # keep reading (and dropping) what comes: see Conn.read

    def _interleaved(self, conn, ch, n):
        s = conn.session
        if s is not None:
            s.alive()
            if n and ch & 1 and is_bye(memoryview(conn.rx)[4:4 + n], n):
                self._end_session(s, "RTCP BYE")

    # -- sessions ---------------------------------------------------------------------------
    def _find_session(self, sid):
        for s in self._sessions:
            if s.id is not None and s.id == sid:
                return s
        return None

    def _new_session(self, conn, lower, ports):
        if self.full():
            return None, 503            # HTTP viewers take their share of max_clients
        for s in self._sessions:
            if s.id is None:
                break
        else:
            return None, 503
        s.reset()
        self._rr[self._sessions.index(s)] = -1
        if lower == "udp":
            if not self._bind_udp(s, conn.ip, ports):
                return None, self._udp_err
            self._poller.register(s.rtp, _POLLIN)
            self._poller.register(s.rtcp, _POLLIN)
            self._by_sock[s.rtp] = s
            self._by_sock[s.rtcp] = s
        s.id = "%08x%08x" % (_rand32(), _rand32())
        s.conn = conn
        s.state = READY
        s.alive()
        conn.session = s
        self._note("session %s.. %s from %s" % (s.id[:4], lower.upper(), conn.ip))
        return s, 200

    def _bind_udp(self, s, ip, ports):
        """True, or False with the status for the SETUP in _udp_err: 461 when lwIP has no
        UDP PCB left (5, DHCP and mDNS hold 2, a session takes 2: lwipopts_common.h
        MEMP_NUM_UDP_PCB; socket() raises ENOMEM, modlwip.c lwip_socket_make_new): players
        then ask for TCP (ffmpeg and GStreamer do), where a 503 would end the session."""
        self._udp_err = 503
        used = [x.sport for x in self._sessions if x.id is not None and not x.tcp]
        for i in range(self.max_clients * 8):
            sport = self.rtp_port + 2 * i
            if sport in used:
                continue
            try:
                s.open_udp(self._ip, sport, ip, ports)
                return True
            except OSError as e:
                if e.errno == 12:       # ENOMEM: no PCB
                    self._note("no UDP socket left: UDP refused (461), TCP still open")
                    self._udp_err = 461
                    return False
                continue
        return False

    def _play(self, s):
        """Start (or resume) playing; returns (seq, rtptime) for RTP-Info."""
        if s.state != PLAYING:
            s.state = PLAYING
            self.playing += 1
            nw = self._stream.newest
            s.gen = self._stream.slots[nw].gen if nw >= 0 else -1   # wait for the next frame
            if not s.viewer:
                s.viewer = True
                self._viewers += 1
                if self._viewers == 1:
                    self._emit("first_play", None)
        return self._stream.seq, self._rtp_now()

    def _pause(self, s):
        if s.state == PLAYING:
            self._stream.release(s, s.conn if s.tcp else None, self._p)
            s.state = PAUSED
            self.playing -= 1
            if s.tcp and s.conn is not None and s.conn.sock is not None:
                self._update(s.conn)

    def _end_session(self, s, why, closing=False):
        if s.id is None:
            return
        conn = s.conn
        keep = not closing and s.tcp and conn is not None and conn.sock is not None
        self._stream.release(s, conn if keep else None, self._p)
        if s.state == PLAYING:
            self.playing -= 1
        if not s.tcp:
            for sk in (s.rtp, s.rtcp):
                if sk is not None:
                    self._by_sock.pop(sk, None)
                    try:
                        self._poller.unregister(sk)
                    except Exception:
                        pass
            s.close_udp()
        if conn is not None and conn.session is s:
            conn.session = None
            conn.req_t = time.ticks_ms()     # the idle timer starts now
            if keep:
                self._update(conn)
        self._note("session %s.. ended: %s" % (s.id[:4], why))
        viewer = s.viewer
        self._n["sent"] += s.frames
        self._n["skipped"] += s.skipped
        s.reset()
        if viewer:
            self._viewers -= 1
            if self._viewers == 0:
                self._emit("last_gone", why)

    def _reclaim(self):
        """Free the slot of the viewers furthest behind (cutting their frame short)."""
        st = self._stream
        old = st.oldest_busy()
        if old < 0 or time.ticks_diff(time.ticks_ms(), st.slots[old].ticks) <= self.lag_ms:
            old = self._stuck_slot()        # viewers that take nothing wait for no one
            if old < 0:
                return -1
        for s in self._sessions:
            if s.cur == old:
                st.release(s, s.conn if s.tcp else None, self._p)
                st.cuts += 1
                s.wait_out = s.tcp      # no new frame before its socket takes data again
                if s.tcp and s.conn is not None and s.conn.sock is not None:
                    self._update(s.conn)
        return old if st.slots[old].readers == 0 else -1

    # -- RTCP -------------------------------------------------------------------------------
    def _rtp_now(self):
        return self._rtp.at(time.ticks_ms())

    def _send_sr(self, s, now):
        s.sr_t = time.ticks_add(now, self.sr_ms)
        pkts, octets = s.counts()
        n = sender_report(self._sr, self._ssrc, self._clock.ntp(), self._rtp_now(),
                          pkts, octets, self._cname)
        if s.tcp:
            c = s.conn
            if c is None or c.sock is None:
                return
            self._sr[0] = 0x24
            self._sr[1] = 1
            self._sr[2] = n >> 8
            self._sr[3] = n & 0xFF
            c.queue(self._sr, n + 4)     # dropped when the viewer does not read: harmless
            self._update(c)
        else:
            try:
                s.rtcp.write(self._sr, 4, n)
            except OSError:
                pass

    # -- timers -----------------------------------------------------------------------------
    def _housekeep(self):
        now = time.ticks_ms()
        if time.ticks_diff(now, self._hk_t) < _HOUSEKEEP_MS:
            return
        self._hk_t = now
        self._clock.tick()
        for c in self._conns:
            if c.sock is None:
                continue
            if c.has_output() and not self._held:
                if time.ticks_diff(now, c.prog_t) > self.stall_ms:
                    self._n["drops"] += 1
                    self._close(c, "not reading for %d ms" % self.stall_ms)
                    continue
            if c.closing:
                # answered (400/413/...): close after a short linger, so that the answer is
                # read before the close (closing with unread input resets the connection)
                if c.linger_t != -1 and time.ticks_diff(now, c.linger_t) > 300:
                    self._close(c, "closed after error")
            elif c.session is None and time.ticks_diff(now, c.req_t) > self.idle_ms:
                self._close(c, "idle")
        for s in self._sessions:
            if s.id is None:
                continue
            # a TCP viewer that is playing is watched by the stall timer instead: its
            # connection is proof enough (many clients send no keepalive over TCP)
            if not (s.tcp and s.state == PLAYING) and time.ticks_diff(now, s.seen) > self.expire_ms:
                self._n["timeouts"] += 1
                self._end_session(s, "timeout")
                continue
            # a UDP viewer whose receiver reports stopped (player gone, its RTSP connection
            # left open) would hold one of the few UDP sockets until expire_ms
            rr = self._rr[self._sessions.index(s)]
            if not s.tcp and s.state == PLAYING and rr != -1 and time.ticks_diff(now, rr) > _RR_MS:
                self._n["timeouts"] += 1
                self._end_session(s, "no RTCP for %d s" % (_RR_MS // 1000))
                continue
            if s.state == PLAYING and time.ticks_diff(now, s.sr_t) >= 0:
                self._send_sr(s, now)
        if not self.playing:
            self._rtp.refresh(now)
