# The camera's network stack (lwIP as OpenMV's MicroPython configures it for the RT1062's
# WiFi) modelled behind the emulated `socket` module, so the app meets the camera's limits
# instead of the PC's loopback: the PCB pools, 6400 bytes of send buffer per connection
# drained at the WiFi link's rate, 8000 bytes of packet memory shared by every socket, the
# 10 s of blocking retries of a TCP write that finds that memory full, ENOMEM for UDP, the
# accept queue, blocking DNS. docs/ARCHITECTURE.md has the table of limits and sources.
#
# Sources (read, never copied). OpenMV v5.0.0 builds MicroPython fork commit d18a77e, which
# the mirror lacks; the nearest are upstream MicroPython v1.28.0 (the version of 5.0.0) and
# the fork's branches openmv-1.23 .. openmv-1.25.0, whose lwIP settings and modlwip.c are the
# same for every firmware 4.5-5.0 (the fork changes neither file):
#   OPTS   extmod/lwip-include/lwipopts_common.h @v1.28.0 (ports/mimxrt/lwip_inc/lwipopts.h
#          includes it and sets LWIP_IPV6 0; OpenMV's ports/mimxrt overrides none of them)
#   MODLWIP extmod/modlwip.c @v1.28.0
#   LWIP   lib/lwip @77dcd25 (v1.28.0's submodule): src/core/{tcp,tcp_in,tcp_out,pbuf,mem,
#          dns}.c, src/include/lwip/opt.h defaults
#   CYW43  lib/cyw43-driver @055d642: src/cyw43_ll.c, src/cyw43_lwip.c
#
# Emulation. Everything runs in the app's own process, as lwIP runs on the camera's own CPU;
# service() does lwIP's background work (what PendSV does on the camera) whenever the app
# calls into a socket or select.poll() polls one: modelled TCP sockets give select.poll() no
# file descriptor, so poll() asks them every millisecond. The PC's socket underneath a TCP
# connection receives each segment only when the model delivers it, so a viewer on the PC
# sees the camera's rate. Settings: SIM_LWIP (from tools/sim/board.py) = "off", or
# "rate=BYTES_PER_S,rtt=MS,loss=FRACTION,seed=N,dns=host|none,dns_servers=N,trace=0|1".
import os
import select
import random
import errno
import usocket as _u
import utime as _t

# ---- the numbers, each from its source ------------------------------------------------
TCP_MSS = 800                          # OPTS
TCP_SND_BUF = 8 * TCP_MSS              # OPTS: 6400 bytes per connection
TCP_SND_QUEUELEN = (4 * TCP_SND_BUF + TCP_MSS - 1) // TCP_MSS  # LWIP opt.h default: 32 pbufs
TCP_OVERSIZE = TCP_MSS                 # LWIP opt.h default
MEMP_NUM_TCP_SEG = 32                  # OPTS: segments, shared by every connection
MEMP_NUM_TCP_PCB = 5                   # LWIP opt.h default (OPTS does not set it)
MEMP_NUM_TCP_PCB_LISTEN = 8            # LWIP opt.h default
MEMP_NUM_UDP_PCB = 5                   # OPTS: 4 + LWIP_MDNS_RESPONDER
UDP_PCBS_HELD = 2                      # the DHCP client's (LWIP dhcp.c dhcp_inc_pcb_refcount,
                                       # started by CYW43 cyw43_cb_tcpip_init) and the mDNS
                                       # responder's (mdns.c mdns_resp_init, OpenMV
                                       # ports/mimxrt/main.c @v5.0.0): the streaming state
MEM_SIZE = 8000                        # OPTS: packet memory (mem.c heap) of all sockets
PBUF_STRUCT = 16                       # LWIP pbuf.h: struct pbuf on a 32-bit CPU
PBUF_TRANSPORT = 54                    # LWIP pbuf.h: link 14 + IPv4 20 + transport 20
MEM_STRUCT = 8                         # LWIP mem.c SIZEOF_STRUCT_MEM (u16 indices, aligned)
MEM_MIN = 12                           # LWIP mem.c MIN_SIZE
WRITE_RETRIES = 200                    # MODLWIP lwip_tcp_send: ERR_MEM -> 200 tries...
WRITE_RETRY_MS = 50                    # ...50 ms apart, even on a non-blocking socket
WRITE_MIN = 16                         # MODLWIP lwip_tcp_send: a blocking write waits for 16
CLOSE_TIMEOUT_MS = 10000               # MODLWIP MICROPY_PY_LWIP_TCP_CLOSE_TIMEOUT_MS
LISTEN_BACKLOG_DEFAULT = 2             # py/mpconfig.h MICROPY_PY_SOCKET_LISTEN_BACKLOG_DEFAULT
RTO_MS = 1500                          # LWIP tcp_in.c tcp_receive: on a LAN (RTT < one 500 ms
                                       # tick) sv settles at 3 ticks, so rto = 1.5 s
DNS_WAIT_S = (1, 1, 2, 3)              # LWIP dns.c dns_check_entry: DNS_MAX_RETRIES 4 sends,
                                       # tmr = retries ticks of DNS_TMR_INTERVAL 1 s apart
LINK_QUEUE = 8                         # frames the radio takes before a send waits for a credit
                                       # (CYW43 cyw43_sdpcm_send_common); the chip sets the
                                       # credits at run time: 8 is an assumption
LINK_STALL_MS = 1000                   # CYW43 cyw43_sdpcm_send_common gives up after 1 s...
ERRNO_ERR_IF = -1                      # ...ERR_IF, which MODLWIP error_lookup_table maps to -1
ERRNO_DNS = -2                         # MODLWIP lwip_getaddrinfo: a failed lookup raises -2
SO_SNDBUF = 7                          # Linux (the unix port does not name it)

_POLLIN, _POLLOUT, _POLLERR, _POLLHUP = 1, 4, 8, 16
_GET_FILENO, _POLL = 10, 3             # MP_STREAM_GET_FILENO, MP_STREAM_POLL

# ---- settings -------------------------------------------------------------------------
ON = False
rate = 600000          # bytes/s up (OPTS: "TCP dl/ul are around 750/600 k/s")
rtt_us = 2000
loss = 0               # out of 1 << 24
dns = "host"           # "host": names the PC resolves answer after one RTT; "none": no answer
dns_servers = 1        # DNS servers DHCP gave (the emulated access point gives one)
trace = False


def setup(spec):
    """Apply a SIM_LWIP string (see the top of this file); "off" or "" turns the model off."""
    global ON, rate, rtt_us, loss, dns, dns_servers, trace
    ON = bool(spec) and spec != "off"
    for item in (spec or "").split(","):
        k, _, v = item.partition("=")
        if k == "rate":
            rate = int(v)
        elif k == "rtt":
            rtt_us = int(float(v) * 1000)
        elif k == "loss":
            loss = int(float(v) * (1 << 24))
        elif k == "seed":
            random.seed(int(v))
        elif k == "dns":
            dns = v
        elif k == "dns_servers":
            dns_servers = int(v)
        elif k == "trace":
            trace = v == "1"
    reset()
    if ON:
        _hook_sleep()


def _hook_sleep():
    # While the app sleeps, the camera's lwIP keeps sending (it runs from interrupts): the
    # emulated time.sleep*() do lwIP's background work as they wait.
    try:
        import time as tm
    except ImportError:
        return
    if getattr(tm, "_lwip_hooked", False):
        return
    tm._lwip_hooked = True
    tm.sleep_us = lambda us: _sleep_us(us)
    tm.sleep_ms = lambda ms: _sleep_us(ms * 1000)
    tm.sleep = lambda s: _sleep_us(int(s * 1000000))


def reset():
    """Empty pools and an idle link (a fresh boot; tests)."""
    global _tcp_used, _listen_used, _udp_used, _segs_used, _heap, _busy, _ei, _last
    _tcp_used = _listen_used = _segs_used = _heap = 0
    _udp_used = UDP_PCBS_HELD
    _busy = _ei = _last = 0
    for i in range(LINK_QUEUE):
        _ends[i] = 0
    _conns.clear()
    _listeners.clear()


def status():
    """What the pools hold now: for tests and the emulator's own diagnostics."""
    return {"tcp_pcbs": _tcp_used, "listen_pcbs": _listen_used, "udp_pcbs": _udp_used,
            "segments": _segs_used, "mem": _heap, "link_busy_us": max(0, _busy - _now())}


def _say(text):
    if trace:
        print("emulator: lwip: " + text)


# ---- state ----------------------------------------------------------------------------
_ends = [0] * LINK_QUEUE   # when the last LINK_QUEUE frames leave the radio (a ring)
_conns = []                # TCP connections with a send side
_listeners = []
_tcp_used = _listen_used = _segs_used = _heap = _busy = _ei = _last = _last_pull = 0
_udp_used = UDP_PCBS_HELD


def _now():
    return _t.ticks_us()   # the unix port's counter does not wrap in practice (2**62)


def _align(n):
    return (n + 3) & ~3    # MEM_ALIGNMENT 4 (OPTS)


def _mem(hlen, n):
    # LWIP pbuf.c pbuf_alloc(PBUF_RAM) asks mem_malloc for the pbuf struct, the header room
    # and the payload, each aligned; mem.c adds its own header to every block
    s = PBUF_STRUCT + _align(hlen) + _align(n)
    return (s if s > MEM_MIN else MEM_MIN) + MEM_STRUCT


def _lost():
    return loss and random.getrandbits(24) < loss


def _frame(n, start):
    """Put n bytes on the radio at `start` (or when it is free); returns when they are out."""
    global _busy, _ei
    if start < _busy:
        start = _busy
    _busy = start + n * 1000000 // rate
    _ends[_ei] = _busy
    _ei = (_ei + 1) % LINK_QUEUE
    return _busy


def _sleep_ms(ms):
    _sleep_us(ms * 1000)


def _sleep_us(us):
    # lwIP keeps working while modlwip sleeps (it runs from the systick/PendSV on the camera)
    end = _now() + us
    while True:
        left = end - _now()
        if left <= 0:
            break
        _t.sleep_us(left if left < 5000 else 5000)
        service()


def _unread(s):
    # has the viewer sent something the app has not read?
    try:
        return bool(s.recv(1, _u.MSG_PEEK | _u.MSG_DONTWAIT))
    except OSError:
        return False


def _rst(s):
    # close with a reset, as tcp_abort does
    try:
        s.setsockopt(_u.SOL_SOCKET, _u.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


# ---- one TCP connection's send side (lwIP's tcp_pcb: snd_buf, snd_queuelen, unsent,
# unacked), a ring of segments; [h, h+ns) sent and not acked, the rest unsent ----------------
class _Conn:
    N = TCP_SND_QUEUELEN + 1

    def __init__(self, sock):
        self.sock = sock
        n = self.N
        self.mv = [memoryview(bytearray(TCP_MSS)) for _ in range(n)]   # once per connection
        self.ln = [0] * n      # payload bytes of each segment
        self.pb = [0] * n      # pbufs chained in it (snd_queuelen counts pbufs)
        self.mem = [0] * n     # packet memory its pbufs take
        self.ov = [0] * n      # room left in its last pbuf (tcp_write "oversize")
        self.rdy = [0] * n     # from when it may go (written, or released by an ACK)
        self.dlv = [0] * n     # when it reaches the viewer
        self.out = [0] * n     # bytes of it handed to the PC's socket
        self.h = self.n = self.ns = 0
        self.queued = 0        # bytes unsent or unacked: tcp_sndbuf = TCP_SND_BUF - queued
        self.qlen = 0
        self.nodelay = False   # TF_NODELAY (setsockopt TCP_NODELAY)
        self.memerr = False    # TF_NAGLEMEMERR: a write failed, Nagle lets everything go
        self.err = 0           # errno once the connection broke
        self.t_close = -1      # closed by the app at (still sending what is queued)
        self.refused = -1      # when the PC's socket last refused a segment (trace: _holders)
        self.ip = select.poll()  # is there input (or a close) from the viewer?
        self.ip.register(sock._s, _POLLIN)
        try:                     # the PC's own send buffer kept small: on the camera the only
            sock._s.setsockopt(_u.SOL_SOCKET, SO_SNDBUF, 4096)   # buffer is lwIP's, so a
        except OSError:          # viewer that stops reading stops the connection at once
            pass

    def sndbuf(self):
        return TCP_SND_BUF - self.queued

    def _alloc(self, length, most, first, had):
        # LWIP tcp_out.c tcp_pbuf_prealloc: an oversized pbuf when Nagle would hold the data
        # (`had`: segments queued before this write)
        if length < most and not self.nodelay and (not first or had):
            a = _align(length + TCP_OVERSIZE)
            return a if a < most else most
        return length

    def write(self, buf, off, n, now):
        """LWIP tcp_out.c tcp_write(TCP_WRITE_FLAG_COPY): queue n bytes or nothing; False is
        ERR_MEM (no pbuf, no segment, queue too long)."""
        global _heap, _segs_used
        if self.qlen >= TCP_SND_QUEUELEN:             # tcp_write_checks
            self.memerr = True
            return False
        N = self.N
        had = self.n
        tail = (self.h + self.n - 1) % N if self.n > self.ns else -1
        pos = use_ov = cat = cat_alloc = need = pbufs = 0
        if tail >= 0:
            space = TCP_MSS - self.ln[tail]
            use_ov = min(space, self.ov[tail], n)     # phase 1: into the last pbuf's room
            pos = use_ov
            space -= use_ov
            if pos < n and space > 0 and self.ln[tail]:   # phase 2: chain a pbuf to it
                cat = min(space, n - pos)
                cat_alloc = self._alloc(cat, space, True, had)
                need += _mem(0, cat_alloc)
                pbufs += 1
                pos += cat
        segs = 0
        p = pos
        while p < n:                                   # phase 3: new segments
            k = min(n - p, TCP_MSS)
            need += _mem(PBUF_TRANSPORT, self._alloc(k, TCP_MSS, segs == 0, had))
            pbufs += 1
            segs += 1
            p += k
        if (self.qlen + pbufs > TCP_SND_QUEUELEN or _segs_used + segs > MEMP_NUM_TCP_SEG
                or _heap + need > MEM_SIZE):
            self.memerr = True
            return False
        _heap += need
        _segs_used += segs
        self.qlen += pbufs
        self.queued += n
        if tail >= 0 and pos:
            t = self.ln[tail]
            self.mv[tail][t:t + pos] = memoryview(buf)[off:off + pos]
            self.ln[tail] = t + pos
            if cat:
                self.pb[tail] += 1
                self.mem[tail] += _mem(0, cat_alloc)
                self.ov[tail] = cat_alloc - cat
            else:
                self.ov[tail] -= use_ov
            self.rdy[tail] = now if now > self.rdy[tail] else self.rdy[tail]
        first = True
        while pos < n:
            k = min(n - pos, TCP_MSS)
            a = self._alloc(k, TCP_MSS, first, had)
            first = False
            i = (self.h + self.n) % N
            self.mv[i][0:k] = memoryview(buf)[off + pos:off + pos + k]
            self.ln[i] = k
            self.pb[i] = 1
            self.mem[i] = _mem(PBUF_TRANSPORT, a)
            self.ov[i] = a - k
            self.rdy[i] = now
            self.out[i] = 0
            self.n += 1
            pos += k
        if tail >= 0 and self.n - self.ns > 1:
            self.rdy[tail] = now if now > self.rdy[tail] else self.rdy[tail]
        return True

    def may_send(self):
        # LWIP tcp.h tcp_do_output_nagle, checked by tcp_output for the first unsent segment
        if self.ns == 0 or self.nodelay or self.memerr or self.n - self.ns > 1:
            return True
        i = (self.h + self.ns) % self.N
        return self.ln[i] >= TCP_MSS or self.queued >= TCP_SND_BUF or self.qlen >= TCP_SND_QUEUELEN

    def next_tx(self):
        """When lwIP hands the first unsent segment to the radio (it queues behind what the
        radio holds, UDP included), or -1."""
        if self.ns >= self.n or self.err or not self.may_send():
            return -1
        return self.rdy[(self.h + self.ns) % self.N]

    def send_one(self):
        i = (self.h + self.ns) % self.N
        end = _frame(self.ln[i], self.rdy[i])
        d = end + rtt_us // 2
        if _lost():
            d += RTO_MS * 1000          # retransmitted after lwIP's RTO (fast retransmit not modelled)
        if self.ns:                     # the viewer's TCP hands data over in order
            prev = self.dlv[(i - 1) % self.N]
            if d < prev:
                d = prev
        self.dlv[i] = d
        self.ns += 1

    def deliver(self, now):
        """Hand the PC's socket what has reached the viewer by now; False on a broken one."""
        N = self.N
        for j in range(self.ns):
            i = (self.h + j) % N
            if self.dlv[i] > now:
                break
            o, ln = self.out[i], self.ln[i]
            if o < ln:
                try:
                    k = self.sock._s.send(self.mv[i][o:ln], _u.MSG_DONTWAIT)
                except OSError as e:
                    if e.errno == errno.EAGAIN:   # the viewer is not reading: window closed
                        self.refused = now
                        return True
                    self.drop(errno.ECONNRESET)
                    return False
                self.out[i] = o + k
                if o + k < ln:
                    return True
        return True

    def next_ack(self):
        if not self.ns or self.err:
            return -1
        h = self.h
        if self.out[h] < self.ln[h]:
            return -1
        return self.dlv[h] + rtt_us // 2

    def ack_one(self, t):
        global _heap, _segs_used
        h = self.h
        _heap -= self.mem[h]
        _segs_used -= 1
        self.qlen -= self.pb[h]
        self.queued -= self.ln[h]
        self.h = (h + 1) % self.N
        self.n -= 1
        self.ns -= 1
        if self.ns < self.n:                # an ACK may release what Nagle held
            i = (self.h + self.ns) % self.N
            if self.rdy[i] < t:
                self.rdy[i] = t
        else:
            self.memerr = False             # tcp_output: nothing unsent any more

    def drop(self, err):
        """The connection broke: lwIP frees its segments."""
        global _heap, _segs_used
        for j in range(self.n):
            i = (self.h + j) % self.N
            _heap -= self.mem[i]
            _segs_used -= 1
        self.h = self.n = self.ns = self.queued = self.qlen = 0
        if not self.err:
            self.err = err


class _Listener:
    """A listening socket: lwIP takes a PCB for each connection as its SYN arrives and keeps
    the established ones in modlwip's accept queue until accept()."""

    def __init__(self, inner, slots):
        self.inner = inner
        self.slots = slots
        self.q = []
        self.starved = False
        self.p = select.poll()
        self.p.register(inner, _POLLIN)

    def pull(self):
        global _tcp_used
        for _ in range(16):
            ready = False
            for _o, _ev in self.p.ipoll(0):
                ready = True
            if not ready:
                return
            if _tcp_used >= MEMP_NUM_TCP_PCB:
                # LWIP tcp_in.c tcp_listen_input: tcp_alloc fails, the SYN is dropped and the
                # viewer retries; here it waits in the PC's queue until a PCB frees
                if not self.starved:
                    self.starved = True
                    _say("incoming connection: no TCP PCB (%d in use): it waits" % _tcp_used)
                return
            self.starved = False
            try:
                s, raw = self.inner.accept()
            except OSError:
                return
            if len(self.q) >= self.slots:
                # MODLWIP _lwip_tcp_accept: no free slot -> ERR_BUF -> tcp_abort (a reset)
                _say("accept queue full (%d): connection reset" % self.slots)
                _rst(s)
                continue
            _tcp_used += 1
            self.q.append((s, raw))

    def abort_all(self):
        global _tcp_used
        for s, _raw in self.q:
            _tcp_used -= 1
            _rst(s)
        self.q.clear()


def _holders():
    # who holds the packet memory (trace only): per connection, bytes unsent / sent but not
    # handed to the viewer's PC socket (its window is closed) / handed over, awaiting the ACK,
    # as of the last service(); and when the PC last refused a segment
    now = _last
    out = ["mem %d/%d (lwIP's work done %d ms ago)" % (_heap, MEM_SIZE, (_now() - now) // 1000)]
    for j, c in enumerate(_conns):
        uns = sum(c.ln[(c.h + i) % c.N] for i in range(c.ns, c.n))
        late = wait = 0
        for i in range(c.ns):
            x = (c.h + i) % c.N
            if c.out[x] < c.ln[x]:
                late += c.ln[x] - c.out[x] if c.dlv[x] <= now else 0
            else:
                wait += c.ln[x]
        m = sum(c.mem[(c.h + i) % c.N] for i in range(c.n))
        ref = "" if c.refused < 0 else ", PC refused %d ms ago" % ((now - c.refused) // 1000)
        out.append("conn%d: mem %d, unsent %d, undelivered %d, unacked %d%s%s" % (
            j, m, uns, late, wait, ref, " (closing)" if c.t_close >= 0 else ""))
    return "; ".join(out)


# ---- lwIP's background work -----------------------------------------------------------
def service():
    """Deliver, acknowledge and transmit everything due by now, in time order."""
    global _last, _last_pull
    now = _now()
    if now == _last:
        return
    _last = now
    pull = now - _last_pull >= 1000
    if pull:
        _last_pull = now
    for c in _conns:
        if c.sock._broken and not c.err:
            c.drop(errno.ECONNRESET)
        c.deliver(now)
    for _ in range(4 * TCP_SND_QUEUELEN * MEMP_NUM_TCP_PCB):   # bounded: events since last time
        best, bc, ack = now + 1, None, False
        for c in _conns:
            t = c.next_ack()
            if 0 <= t < best:
                best, bc, ack = t, c, True
            t = c.next_tx()
            if 0 <= t < best:
                best, bc, ack = t, c, False
        if bc is None:
            break
        if ack:
            bc.ack_one(best)
        else:
            bc.send_one()
            bc.deliver(now)
    for c in _conns[:]:
        if c.t_close >= 0:
            _finish(c, now)
    if pull:
        for lst in _listeners:
            lst.pull()


def _finish(c, now):
    # a connection the app closed: gone once everything is acknowledged, or aborted by
    # modlwip's close timeout
    s = c.sock
    if c.n and not c.err and now - c.t_close < CLOSE_TIMEOUT_MS * 1000:
        return
    if c.n:
        _say("close timeout: connection aborted with %d bytes unsent" % c.queued)
        c.drop(errno.ECONNRESET)
        _rst(s._s)
    _conns.remove(c)
    s._zombie = False
    s._release()
    s._base_close()


# ---- UDP ------------------------------------------------------------------------------
def udp_send(n):
    """MODLWIP lwip_raw_udp_send for n bytes: ENOMEM without packet memory, then the radio
    (which may make the sender wait); True when the datagram is lost on the way."""
    service()
    if _heap + _mem(PBUF_TRANSPORT, n) > MEM_SIZE:
        _say("UDP send: no packet memory (%d of %d bytes held)" % (_heap, MEM_SIZE))
        raise OSError(errno.ENOMEM)
    t0 = _now()
    while _ends[_ei] > _now():     # no credit: the driver polls the chip until one comes
        if _now() - t0 > LINK_STALL_MS * 1000:
            raise OSError(ERRNO_ERR_IF)
        left = _ends[_ei] - _now()
        if left > 0:
            _t.sleep_us(left if left < 1000 else 1000)
        service()
    _frame(n, _now())
    return _lost()


# ---- DNS ------------------------------------------------------------------------------
def _numeric(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True


def dns_wait(host, lookup):
    """MODLWIP lwip_getaddrinfo blocks until lwIP's DNS answers or gives up; the caller then
    resolves the name itself. Raises OSError(-2) when the modelled lookup fails."""
    if not ON or _numeric(host):
        return
    answered = ok = False
    if _udp_used < MEMP_NUM_UDP_PCB and dns == "host":   # LWIP dns.c dns_alloc_random_port
        try:
            lookup(host, 53)
            answered = ok = True
        except OSError as e:                              # "[addrinfo error N]"
            answered = "error -2]" in str(e)              # EAI_NONAME: the server said no
    if answered:
        _say("DNS: %s answered" % host)
        _sleep_ms(rtt_us // 1000 or 1)
    else:
        wait = sum(DNS_WAIT_S) * dns_servers
        _say("DNS: no answer for %s: blocking %d s" % (host, wait))
        _sleep_ms(wait * 1000)
    if not ok:
        raise OSError(ERRNO_DNS)


# ---- the socket class -----------------------------------------------------------------
_NEW, _LISTEN, _CONN, _UDP = 1, 2, 3, 4


def model(base, addr_tuple):
    """The emulated socket class `base` with lwIP's limits on top."""

    class socket(base):
        def __init__(self, af=2, type=1, proto=0, _inner=None):
            global _tcp_used, _udp_used
            self._kind = self._pcb = self._c = self._l = None
            self._zombie = False
            if _inner is not None:             # accepted: its PCB was taken at its SYN
                base.__init__(self, af, type, proto, _inner)
                self._kind, self._pcb = _CONN, "tcp"
                self._c = _Conn(self)
                _conns.append(self._c)
                return
            if type == _u.SOCK_STREAM:
                if _tcp_used >= MEMP_NUM_TCP_PCB:     # MODLWIP lwip_socket_make_new: tcp_new
                    _say("socket(): no TCP PCB (%d in use)" % _tcp_used)
                    raise OSError(errno.ENOMEM)
                base.__init__(self, af, type, proto)
                _tcp_used += 1
                self._kind, self._pcb = _NEW, "tcp"
            elif type == _u.SOCK_DGRAM:
                if _udp_used >= MEMP_NUM_UDP_PCB:     # MODLWIP lwip_socket_make_new: udp_new
                    _say("socket(): no UDP PCB (%d in use)" % _udp_used)
                    raise OSError(errno.ENOMEM)
                base.__init__(self, af, type, proto)
                _udp_used += 1
                self._kind, self._pcb = _UDP, "udp"
            else:
                base.__init__(self, af, type, proto)

        def _check(self):
            if self._zombie:
                raise OSError(errno.EBADF)
            base._check(self)

        def _release(self):
            global _tcp_used, _listen_used, _udp_used
            p, self._pcb = self._pcb, None
            if p == "tcp":
                _tcp_used -= 1
            elif p == "udp":
                _udp_used -= 1
            elif p == "listen":
                _listen_used -= 1
                self._l.abort_all()
                _listeners.remove(self._l)

        def _base_close(self):
            base.close(self)

        # -- poll: the model answers for TCP sockets ----------------------------------------
        def ioctl(self, req, arg):
            if self._kind == _UDP or self._kind is None:
                return base.ioctl(self, req, arg)
            if req == _POLL:
                return self._poll(arg)
            return -1

        def _poll(self, flags):
            service()
            k = self._kind
            if k == _LISTEN:
                self._l.pull()
                return _POLLIN if self._l.q and flags & _POLLIN else 0
            c = self._c
            if c is None:
                return _POLLHUP                         # MODLWIP: a new socket is HUP
            if c.err or self._broken:
                return (flags & _POLLOUT) | _POLLERR | _POLLHUP
            ret = 0
            ev = 0
            for _o, e in c.ip.ipoll(0):
                ev = e
            if ev & _POLLIN:
                ret |= flags & _POLLIN
            if ev & (_POLLHUP | _POLLERR):              # peer closed: readable and writable
                ret |= flags & (_POLLIN | _POLLOUT)
            if flags & _POLLOUT and c.sndbuf() > 0:
                ret |= _POLLOUT
            return ret

        # -- setup ------------------------------------------------------------------------
        def listen(self, n=None):
            global _tcp_used, _listen_used
            self._check()
            if self._kind != _NEW:
                return base.listen(self, 1 if n is None else n)
            if _listen_used >= MEMP_NUM_TCP_PCB_LISTEN:
                raise OSError(errno.ENOMEM)    # LWIP tcp.c tcp_listen_with_backlog_and_err
            base.listen(self, 16)              # the PC keeps what lwIP makes the viewer retry
            backlog = LISTEN_BACKLOG_DEFAULT if n is None else max(n, 0)
            # LWIP: listening frees the connection PCB and takes a listen PCB; MODLWIP
            # lwip_socket_listen: an accept queue of `backlog` slots (one when <= 1)
            _tcp_used -= 1
            _listen_used += 1
            self._kind, self._pcb = _LISTEN, "listen"
            self._l = _Listener(self._s, backlog if backlog > 1 else 1)
            _listeners.append(self._l)

        def accept(self):
            self._check()
            if self._kind != _LISTEN:
                return base.accept(self)
            t0 = _t.ticks_ms()
            while True:
                service()
                self._l.pull()
                if self._l.q:
                    break
                if self._timeout == 0:
                    raise OSError(errno.EAGAIN)
                if self._timeout and _t.ticks_diff(_t.ticks_ms(), t0) >= self._timeout * 1000:
                    raise OSError(errno.ETIMEDOUT)
                _t.sleep_ms(1)
            s, raw = self._l.q.pop(0)
            new = socket(_inner=s)
            if self._timeout is not None:      # MODLWIP: the new socket takes the timeout
                new.settimeout(self._timeout)
            return new, addr_tuple(raw)

        def connect(self, addr):
            base.connect(self, addr)
            if self._kind == _NEW:
                self._kind = _CONN
                self._c = _Conn(self)
                _conns.append(self._c)

        def setsockopt(self, level, opt, val):
            if level == 6 and opt == 1 and self._c is not None:   # IPPROTO_TCP, TCP_NODELAY
                self._c.nodelay = bool(val)
            return base.setsockopt(self, level, opt, val)

        def close(self):
            if self._closed or self._zombie:
                return
            c = self._c
            if c is not None and not c.err and not self._broken and _unread(self._s):
                # LWIP tcp.c tcp_close_shutdown: input the app has not read -> a reset, and
                # the PCB and everything queued are freed at once
                c.drop(errno.ECONNRESET)
                _rst(self._s)
            elif c is not None and c.n and not c.err and not self._broken:
                self._zombie = True            # lwIP still sends what is queued (tcp_close)
                c.t_close = _now()
                return
            if c is not None:
                _conns.remove(c)
            self._release()
            base.close(self)

        # -- sending ----------------------------------------------------------------------
        def _tcp_send(self, buf, off, n):
            # MODLWIP lwip_tcp_send
            self._check()
            c = self._c
            if c is None:
                raise OSError(errno.ENOTCONN)
            service()
            if c.err:
                raise OSError(c.err)
            avail = c.sndbuf()
            if avail == 0:
                if self._timeout == 0:
                    raise OSError(errno.EAGAIN)
                t0 = _t.ticks_ms()
                while c.sndbuf() < WRITE_MIN and not c.err:
                    if (self._timeout is not None and
                            _t.ticks_diff(_t.ticks_ms(), t0) > self._timeout * 1000):
                        raise OSError(errno.ETIMEDOUT)
                    _t.sleep_ms(1)
                    service()
                if c.err:
                    raise OSError(c.err)
                avail = c.sndbuf()
            k = n if n < avail else avail
            t0 = _t.ticks_ms()
            for i in range(WRITE_RETRIES):
                if c.write(buf, off, k, _now()):
                    break
                if i == 0 and trace:
                    _say("write of %d: ERR_MEM; %s" % (k, _holders()))
                _sleep_ms(WRITE_RETRY_MS)      # the writer blocks, whatever its timeout
            else:
                _say("write: ERR_MEM after %d tries (%d ms): ENOMEM" %
                     (WRITE_RETRIES, _t.ticks_diff(_t.ticks_ms(), t0)))
                raise OSError(errno.ENOMEM)
            if i:
                _say("write: waited %d ms for packet memory (%d tries)" %
                     (_t.ticks_diff(_t.ticks_ms(), t0), i + 1))
            service()
            return k

        def _udp(self, n):
            self._check()
            return udp_send(n)

        def write(self, buf, off=None, n=None):
            if self._kind == _UDP:
                if self._udp((len(buf) - (off or 0)) if n is None else n):
                    return len(buf) - (off or 0) if n is None else n
                return base.write(self, buf, off, n)
            if self._kind not in (_CONN, _NEW):
                return base.write(self, buf, off, n)
            off = off or 0
            if n is None or n > len(buf) - off:
                n = len(buf) - off
            # py/stream.c mp_stream_rw: write() sends until done, stops at "would block"
            # (None when nothing went), and raises any other error
            done = 0
            while done < n:
                try:
                    k = self._tcp_send(buf, off + done, n - done)
                except OSError as e:
                    if e.errno == errno.EAGAIN:
                        return done if done else None
                    raise
                if not k:
                    break
                done += k
            return done

        def send(self, buf):
            if self._kind == _UDP:
                if self._udp(len(buf)):
                    return len(buf)
                return base.send(self, buf)
            if self._kind not in (_CONN, _NEW):
                return base.send(self, buf)
            return self._tcp_send(buf, 0, len(buf))

        def sendall(self, buf):
            if self._kind not in (_CONN, _NEW):
                return base.sendall(self, buf)
            # MODLWIP lwip_socket_sendall: non-blocking and too big -> EAGAIN, nothing sent
            c = self._c
            if self._timeout == 0 and c is not None and len(buf) > c.sndbuf():
                raise OSError(errno.EAGAIN)
            off = 0
            while off < len(buf):
                off += self._tcp_send(buf, off, len(buf) - off)

        def sendto(self, buf, addr):
            if self._kind == _UDP and self._udp(len(buf)):
                return len(buf)
            return base.sendto(self, buf, addr)

    # a name the firmware lacks stays absent (the profile shaped `base` already)
    for k in list(socket.__dict__):
        if k[0] != "_" and not hasattr(base, k):
            delattr(socket, k)

    return socket


setup(os.getenv("SIM_LWIP") or "off")
