# RTC time from NTP, checked before it is believed, and local time for display.
#
# An NTP answer that is well-formed and answers our request (see the exchange below) is
# still checked before the RTC is set:
#   - outside min_year..max_year: rejected (min_year defaults to this app's release year:
#     a clock can never truly read earlier). Garbage seconds land anywhere in 1900..2036;
#   - exactly 2036-02-07 06:28:16, what ntptime makes of a zero timestamp (kiss-of-death,
#     empty packet): rejected whatever max_year says (an RTC set so by ntptime.settime());
#   - once the clock is trusted: an answer more than max_jump_s away from the RTC;
#   - before the clock is trusted: an answer needs a second one that agrees (another
#     server, or the same server again when no other server disagrees). Random garbage
#     never agrees with itself; two servers that disagree leave the clock unsynced rather
#     than picking one. Known limit: with a single server configured and no trusted RTC, a
#     server that lies consistently (same wrong time every time, inside the year window)
#     cannot be told from a good one.
# Every check is integer arithmetic on the seconds (lib/timeutil.py): time.gmtime() raises
# OverflowError from 2**31 on firmware 4.5.0-4.7.x, and the garbage above lands there, so no
# answer reaches gmtime() before it passed the window; times past 2038-01-17 are refused on
# every firmware.
# Trust survives deep sleep: the RTC keeps running, so after a wake (power.py's marker) an
# RTC reading inside the year window, not earlier than when it went to sleep, is trusted
# at once and the camera need not wait for the network.
#
# The exchange, our own (RFC 5905 client mode, a 48-byte request): the firmware's frozen
# `ntptime` (micropython-lib micropython/net/ntptime/ntptime.py, frozen at e4cf095 on
# firmware 4.8, the same code on 4.5.6-4.7) is the firmware facility the guide prefers, but
# time() looks the host up with getaddrinfo() on every call, then waits in recv() on a
# socket with a timeout: the camera loop (capture, viewers, LED, watchdog) stands still for
# up to that timeout whenever a server is slow or silent, and a stream must never stall
# 50 ms. It also checks nothing (mode, stratum, that the answer is to our request) and
# maps every transmit time before 2024 into the next era. So here:
#   - a sync sends the request on a non-blocking UDP socket and returns; each later poll()
#     looks for the answer with readinto() (None at once when nothing came: no wait, no
#     exception, no allocation) until timeout_ms (1 s) has passed, then gives up. The
#     socket lives only for that exchange: the camera has 5 UDP PCBs, DHCP and mDNS hold 2
#     and UDP viewers need the rest; no free PCB is a failed attempt (logged once);
#   - the request's transmit timestamp is 8 random bytes (lib/entropy.py), which a server
#     echoes as the answer's originate timestamp: any other datagram is not our answer and
#     is ignored (RFC 5905 8, and the random transmit time of the NTP data minimization
#     draft). An answer to us is refused unless server mode, stratum 1..15 (0 is a
#     kiss-o'-death), leap indicator not 3 (unsynchronized);
#   - NTP seconds become port-epoch seconds in 16-bit halves (no float: single precision
#     on the camera; a value from 2**30 is a heap int there, made a few times per exchange
#     only), rounded to the nearest second with half the round trip added. No guess at the
#     NTP era: every time past 2038-01-17 is refused anyway (below), so a transmit time
#     before 1970 stays there and is refused, and a zero timestamp is refused by name;
#   - boot() runs the same exchange and waits for it (sleeping in short steps): it runs
#     before streaming starts and may spend a few seconds.
# A sync runs at most one exchange at a time, when due; failures back off (retry_min_s
# doubling to retry_max_s).
# DNS: getaddrinfo() blocks the whole camera until lwIP's DNS answers or gives up after
# 1+1+2+3 s per DNS server (modlwip.c lwip_getaddrinfo, lwIP dns.c dns_check_entry; an IP
# address or a name in lwIP's cache returns at once). So a name is looked up once (at boot)
# and its address remembered; it is looked up again only after _RELOOKUP_AFTER failed
# queries in a row (pool names rotate their servers), and only when no viewer is playing.
# Until then, and when that lookup fails, the old address is still asked.
import time
import timeutil

# ntptime's reading of a zero transmit timestamp: 2**32 NTP seconds, 2036-02-07 06:28:16 UTC
_ERA_ZERO = 2 ** 32 - 2208988800 - timeutil.EPOCH_DAYS * 86400
# NTP seconds (from 1900) of the port's epoch, in 16-bit halves (small ints on the camera)
_EPOCH_HI, _EPOCH_LO = divmod(2208988800 + timeutil.EPOCH_DAYS * 86400, 65536)
_NTP_PORT = 123
_REQUEST = 0x23                         # leap 0, version 4, mode 3 (client)
_STEP_MS = 5                            # boot(): how often it looks for the answer
_AGREE_S = 2                            # answers are whole seconds; allow rounding + RTT
_CONFIRM_AFTER_MS = 1000               # a first plausible answer is checked this soon
_ANSWER_TTL_MS = 600000                 # unconfirmed answers older than 10 min are forgotten
_RELOOKUP_AFTER = 2                     # failed queries in a row before a name is looked up again

# Keys of the "time" section (lib/appconfig.py validates the first four); the others are
# tuning knobs with sensible defaults, settable for tests.
DEFAULTS = {
    "ntp_servers": ["pool.ntp.org"],
    "sync_interval_s": 21600,
    "retry_min_s": 10,
    "retry_max_s": 600,
    "timeout_ms": 1000,     # how long an exchange waits for its answer (never blocking)
    "boot_budget_ms": 5000,
    "max_jump_s": 600,
    "min_year": 2026,       # this app's release year: no true clock reads earlier (like
                            # systemd's build-time floor); stricter than ntptime's 2024 pivot
    "max_year": 2040,       # "far in the future": garbage that is self-consistent (a lying
                            # server) is bounded to this window; a camera still running in
                            # 2040 needs a newer release anyway
    "utc_offset_minutes": 0,
    "dst": "none",
}
DST_RULES = ("none", "eu", "us")


class SystemRtc:
    """The board's RTC: now() in port-epoch seconds, set(secs) in UTC."""

    def __init__(self, machine=None):
        if machine is None:
            import machine
        self._rtc = machine.RTC()

    def now(self):
        return timeutil.rtc_now()

    def set(self, secs):
        t = timeutil.gmtime(secs)
        if t is None:
            raise ValueError("time out of range")
        self._rtc.datetime((t[0], t[1], t[2], t[6] + 1, t[3], t[4], t[5], 0))


def _is_ip(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or not p.isdigit() or int(p) > 255:
            return False
    return True


def _option(cfg, key, log, check):
    v = cfg.get(key, DEFAULTS[key])
    try:
        if check(v):
            return v
    except (TypeError, ValueError, AttributeError):
        pass
    if log:
        log.error("time: bad %s %r, using %r", key, v, DEFAULTS[key])
    return DEFAULTS[key]


def _int_ok(lo, hi):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


class TimeSync:
    """NTP-checked RTC. cfg: the "time" section of the config (keys: see DEFAULTS).
    rtc: object with now()/set(secs) (SystemRtc); sock: the socket module (getaddrinfo,
    socket); random(n): n random bytes (entropy.random_bytes); woke/slept_at: from
    power.Power (woke from deep sleep, RTC time then). ticks_ms, sleep_ms: for tests."""

    def __init__(self, cfg=None, log=None, rtc=None, sock=None, ticks_ms=None,
                 woke=False, slept_at=None, random=None, sleep_ms=None):
        cfg = cfg or {}
        self._log = log
        self._rtc = rtc if rtc is not None else SystemRtc()
        self._sock = sock if sock is not None else __import__("socket")
        if random is None:
            import entropy
            random = entropy.random_bytes
        self._random = random
        self._ticks = ticks_ms or time.ticks_ms
        self._sleep = sleep_ms or time.sleep_ms
        servers = _option(cfg, "ntp_servers", log, lambda v: isinstance(v, list) and v
                          and all(isinstance(s, str) and s for s in v))
        self.servers = list(servers)
        self._ips = [s if _is_ip(s) else None for s in servers]
        self._fails = [0] * len(servers)        # failed queries in a row, per server
        self.lookups = 0                        # DNS lookups since boot (logs and tests)
        self._answers = [None] * len(servers)   # unconfirmed (secs, ticks) per server
        self._interval_ms = _option(cfg, "sync_interval_s", log, _int_ok(60, 86400 * 7)) * 1000
        self._retry_min = _option(cfg, "retry_min_s", log, _int_ok(1, 86400)) * 1000
        self._retry_max = max(self._retry_min,
                              _option(cfg, "retry_max_s", log, _int_ok(1, 86400)) * 1000)
        self._timeout = _option(cfg, "timeout_ms", log, _int_ok(50, 10000))
        self._budget = _option(cfg, "boot_budget_ms", log, _int_ok(0, 60000))
        self._max_jump = _option(cfg, "max_jump_s", log, _int_ok(1, 10 ** 8))
        self._min_year = _option(cfg, "min_year", log, _int_ok(2000, 2200))
        self._max_year = _option(cfg, "max_year", log, _int_ok(self._min_year, 2200))
        self._offset_s = _option(cfg, "utc_offset_minutes", log, _int_ok(-720, 840)) * 60
        self._dst = _option(cfg, "dst", log, lambda v: v.lower() in DST_RULES).lower()
        # the window of plausible answers, in seconds (no gmtime() needed to judge one)
        self._earliest = timeutil.year_start(self._min_year)
        self._latest = min(timeutil.year_start(self._max_year + 1) - 1, timeutil.LATEST)
        self._dst_year = None
        self._dst_span = (0, 0)
        self.synced = False
        self.source = None          # "ntp" or "rtc" (trusted after a wake)
        self.rejected = 0           # answers refused since boot
        self.last_error = None      # why the last query did not sync (for logs and tests)
        self.synced_at = None       # RTC seconds (UTC) of the last NTP sync (the web status)
        self._next = 0              # server to ask next
        self._confirming = False    # the last answer waits for a second one
        self._due = timeutil.Deadline(0, self._ticks)   # when to query next (may be days away)
        self._retry = self._retry_min
        # the exchange under way: its socket (None: none), server, request, nonce, send time
        self._s = None
        self._i = 0
        self._pkt = None
        self._nonce = None
        self._sent = 0
        self._wait = timeutil.Deadline(0, self._ticks)   # when its answer is given up
        self._no_pcb = False        # "no UDP socket" was logged (once until one opens again)
        if woke:
            self._trust_rtc(slept_at)

    # ---------------------------------------------------------------- plausibility

    def _plausible(self, secs):
        if not isinstance(secs, int):
            return "not a number of seconds"
        if secs == _ERA_ZERO:
            return "zero timestamp (kiss-of-death or empty answer)"
        if secs < self._earliest or secs > self._latest:
            return "implausible year %d" % timeutil.year_of(secs)
        return None

    def _trust_rtc(self, slept_at):
        now = self._rtc.now()
        why = self._plausible(now)
        if why is None and slept_at is not None and now < slept_at:
            why = "RTC went backwards during sleep"
        if why is None:
            self.synced = True
            self.source = "rtc"
            self._info("time: RTC trusted after wake (%s UTC)", _fmt(timeutil.gmtime(now)))
        else:
            self._warn("time: RTC not trusted after wake: %s", why)

    # ---------------------------------------------------------------- queries

    def _resolve(self, i, may_block):
        ip = self._ips[i]
        if may_block and (ip is None or self._fails[i] >= _RELOOKUP_AFTER) \
                and not _is_ip(self.servers[i]):
            self.lookups += 1
            try:
                ip = self._sock.getaddrinfo(self.servers[i], _NTP_PORT)[0][-1][0]
                self._ips[i] = ip
                self._fails[i] = 0
            except Exception as e:      # DNS down, no link: the old address (if any) is asked
                self.last_error = "%s: DNS %s" % (self.servers[i], _err(e))
        return ip

    def _start(self, may_block):
        """Send a request to the next server; True when an exchange is under way."""
        self._confirming = False
        i = self._next
        self._next = (i + 1) % len(self.servers)
        ip = self._resolve(i, may_block)
        if ip is None:
            if not may_block:
                self.last_error = "%s: address not known yet" % self.servers[i]
            return False
        sk = self._sock
        try:
            s = sk.socket(sk.AF_INET, sk.SOCK_DGRAM)
        except OSError as e:            # ENOMEM: no UDP PCB left (UDP viewers hold them)
            self.last_error = "%s: no UDP socket, %s" % (self.servers[i], _err(e))
            if not self._no_pcb:
                self._no_pcb = True
                self._warn("time: %s", self.last_error)
            return False
        self._no_pcb = False
        pkt = bytearray(48)
        pkt[0] = _REQUEST
        nonce = self._random(8)
        pkt[40:48] = nonce              # our transmit timestamp: the answer must echo it
        try:
            s.setblocking(False)
            s.sendto(pkt, (ip, _NTP_PORT))
        except OSError as e:            # ENOMEM (no packet memory), link down
            s.close()
            self.last_error = "%s: %s" % (self.servers[i], _err(e))
            return False
        self._s, self._i, self._pkt, self._nonce = s, i, pkt, nonce
        self._sent = self._ticks()
        self._wait.set(self._timeout)
        return True

    def _finish(self):
        """Look for the answer without waiting. None: still waiting; else True when the RTC
        was set, False when the exchange failed (the socket is closed then)."""
        i = self._i
        try:
            n = self._s.readinto(self._pkt)
        except OSError as e:            # link down
            self.last_error = "%s: %s" % (self.servers[i], _err(e))
            return self._end(False)
        if n is not None and _ours(self._pkt, n, self._nonce):
            self._fails[i] = 0
            secs = _seconds(self._pkt, time.ticks_diff(self._ticks(), self._sent))
            self._end(False)
            if isinstance(secs, str):
                self._reject(i, secs)
                return False
            return self._judge(i, secs)
        if not self._wait.passed():
            return None                 # nothing, or a datagram that is not our answer
        self.last_error = "%s: no answer in %d ms" % (self.servers[i], self._timeout)
        self._fails[i] += 1             # the name may point elsewhere now: see _resolve
        return self._end(False)

    def _end(self, ok):
        s, self._s = self._s, None
        self._pkt = self._nonce = None
        s.close()
        return ok

    def _reject(self, i, why):
        self.rejected += 1
        self.last_error = "%s: rejected, %s" % (self.servers[i], why)
        self._warn("time: %s", self.last_error)

    def _judge(self, i, secs):
        """Decide on a well-formed answer from server i; True when the RTC was set."""
        why = self._plausible(secs)
        if why is None and self.synced:
            jump = secs - self._rtc.now()
            if jump > self._max_jump or -jump > self._max_jump:
                why = "jump of %d s against the synced RTC" % jump
        elif why is None and not self._confirmed(i, secs):
            self.last_error = "%s: waiting for a second answer to agree" % self.servers[i]
            self._confirming = True
            return False
        if why is not None:
            self._reject(i, why)
            return False
        self._rtc.set(secs)
        self.synced_at = secs
        first = not self.synced
        self.synced = True
        self.source = "ntp"
        self.last_error = None
        self._answers = [None] * len(self.servers)
        if first:
            self._info("time: synced from %s: %s UTC", self.servers[i], _fmt(timeutil.gmtime(secs)))
        return True

    def _confirmed(self, i, secs):
        # Agreement with another server's recent answer, or with this server's previous
        # answer as long as no other server has said something different.
        now = self._ticks()
        agree = disagree = same = 0
        for j, a in enumerate(self._answers):
            if a is None:
                continue
            age = time.ticks_diff(now, a[1])
            if age > _ANSWER_TTL_MS or age < 0:     # < 0: so old the tick counter wrapped
                self._answers[j] = None
                continue
            d = secs - (a[0] + age // 1000)
            ok = -_AGREE_S <= d <= _AGREE_S + 1
            if j == i:
                same = ok
            elif ok:
                agree += 1
            else:
                disagree += 1
        self._answers[i] = (secs, now)
        return agree > 0 or (same and not disagree)

    # ---------------------------------------------------------------- public

    def boot(self, tick=None):
        """Sync at start-up: servers in turn until one sync, two rounds or boot_budget_ms.
        tick(): called between attempts (the caller feeds its watchdog and LED there: each
        attempt waits up to timeout_ms for its answer).

        Returns synced. Skips the network when the RTC was trusted after a wake."""
        if self.synced:
            self._due.set(5000)          # a cheap check soon, no hurry
            return True
        start = self._ticks()
        for _ in range(2 * len(self.servers)):
            if tick:
                tick()
            if self._exchange():
                break
            if time.ticks_diff(self._ticks(), start) >= self._budget:
                break
        self._schedule(self.synced)
        if not self.synced:
            self._warn("time: not synced at boot (%s); retrying in %d s", self.last_error,
                       self._due.left() // 1000)
        return self.synced

    def _exchange(self):
        """One exchange, waited for (boot only); True when the RTC was set."""
        if not self._start(True):
            return False
        while True:
            ok = self._finish()
            if ok is not None:
                return ok
            self._sleep(_STEP_MS)

    def poll(self, busy=False, online=True):
        """Call often from the camera loop; returns at once (synced). Starts an exchange
        when one is due (no DNS lookup while busy: a viewer plays), and looks for the
        answer of the one under way."""
        if self._s is not None:
            if online:
                ok = self._finish()
            else:
                self.last_error = "%s: link down" % self.servers[self._i]
                ok = self._end(False)
            if ok is not None:
                self._schedule(ok)
            return self.synced
        if not online or not self._due.passed():
            return self.synced
        if not self._start(not busy):
            self._schedule(False)
        return self.synced

    def _schedule(self, ok):
        if ok:
            self._retry = self._retry_min
            self._due.set(self._interval_ms)
        elif self._confirming:
            # a plausible first answer: ask again (the next server) soon, no back-off
            self._due.set(_CONFIRM_AFTER_MS)
        else:
            self._due.set(self._retry)
            self._retry = min(self._retry * 2, self._retry_max)

    def utc(self):
        """RTC seconds (UTC) when synced, else None."""
        return self._rtc.now() if self.synced else None

    def local_time(self):
        """Display time tuple (y, m, d, H, M, S, wd, yd) with offset and DST, or None (not
        synced, or an RTC reading this firmware cannot convert)."""
        if not self.synced:
            return None
        now = self._rtc.now()
        if not self._earliest <= now <= self._latest:
            return None                  # someone else set the RTC: not ours to show
        return timeutil.gmtime(self.to_local(now))

    def to_local(self, utc):
        return utc + self._offset_s + (3600 if self._in_dst(utc) else 0)

    # ---------------------------------------------------------------- DST

    def _in_dst(self, utc):
        if self._dst == "none":
            return False
        year = timeutil.year_of(utc)
        if year != self._dst_year:
            self._dst_span = self._span(year)
            self._dst_year = year
        return self._dst_span[0] <= utc < self._dst_span[1]

    def _span(self, year):
        # UTC instants where summer time starts and ends in `year`.
        sunday = timeutil.sunday
        if self._dst == "eu":      # last Sunday of March / October, 01:00 UTC
            return (sunday(year, 3, -1) + 3600, sunday(year, 10, -1) + 3600)
        # US: second Sunday of March 02:00 standard time, first Sunday of November
        # 02:00 daylight time (both local)
        return (sunday(year, 3, 2) + 7200 - self._offset_s,
                sunday(year, 11, 1) + 3600 - self._offset_s)

    def _info(self, msg, *args):
        if self._log:
            self._log.info(msg, *args)

    def _warn(self, msg, *args):
        if self._log:
            self._log.warning(msg, *args)


def _ours(pkt, n, nonce):
    # a whole answer whose originate timestamp is our request's transmit timestamp
    if n < 48:
        return False
    for k in range(8):
        if pkt[24 + k] != nonce[k]:
            return False
    return True


def _seconds(pkt, rtt_ms):
    """Port-epoch seconds of an answer to us (rounded, half the round trip added), or why
    it is refused (a str)."""
    b = pkt[0]
    if b & 7 != 4:
        return "mode %d, not a server's answer" % (b & 7)
    if pkt[1] == 0 or pkt[1] > 15:
        code = "".join(chr(c) if 32 < c < 127 else "?" for c in pkt[12:16])
        return "stratum %d (kiss-o'-death %s)" % (pkt[1], code) if pkt[1] == 0 \
            else "stratum %d (unsynchronized)" % pkt[1]
    if b >> 6 == 3:
        return "leap indicator 3 (server unsynchronized)"
    if not (pkt[40] | pkt[41] | pkt[42] | pkt[43]):
        return "zero timestamp"
    # transmit timestamp: seconds at 40..43, the top byte of the fraction at 44
    secs = (((pkt[40] << 8) | pkt[41]) - _EPOCH_HI) * 65536 + ((pkt[42] << 8) | pkt[43]) \
        - _EPOCH_LO
    return secs + ((pkt[44] * 1000 >> 8) + rtt_ms // 2 + 500) // 1000


def _fmt(t):
    return "%04d-%02d-%02d %02d:%02d:%02d" % t[:6] if t else "?"


def _err(e):
    return "%s %s" % (type(e).__name__, e)
