# RTC time from NTP, checked before it is believed, and local time for display.
#
# The frozen `ntptime` asks one server once and believes any answer. This module decides
# which answers to trust:
#   - outside min_year..max_year: rejected (min_year defaults to this app's release year:
#     a clock can never truly read earlier). ntptime maps every transmit timestamp below
#     2024 into the next NTP era, so garbage lands anywhere in 2024..2160, and a zero
#     timestamp (kiss-of-death, empty packet) always reads 2036-02-07 06:28:16;
#   - exactly that era-zero instant: rejected whatever max_year says;
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
# Blocking: ntptime.time() waits up to `timeout` seconds for the answer (and the DNS
# lookup of a host name can take longer still). So:
#   - boot() may spend a few seconds (it runs before streaming starts);
#   - poll() does at most ONE query per call, only when a sync is due, and when a viewer is
#     playing (busy=True) it uses busy_timeout_ms (default 300 ms; a LAN or ISP NTP server
#     answers in a few ms) and only servers whose address is already known, so no DNS
#     lookup ever runs in the middle of a stream. Worst case a viewer sees one ~0.3 s
#     hiccup per sync_interval_s. Failures back off (retry_min_s doubling to retry_max_s).
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
    "timeout_ms": 1000,
    "busy_timeout_ms": 300,
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
    ntp: the ntptime module; rtc: object with now()/set(secs) (SystemRtc); sock: module with
    getaddrinfo; woke/slept_at: from power.Power (woke from deep sleep, RTC time then)."""

    def __init__(self, cfg=None, log=None, ntp=None, rtc=None, sock=None, ticks_ms=None,
                 woke=False, slept_at=None):
        cfg = cfg or {}
        self._log = log
        self._ntp = ntp if ntp is not None else __import__("ntptime")
        self._rtc = rtc if rtc is not None else SystemRtc()
        self._sock = sock
        self._ticks = ticks_ms or time.ticks_ms
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
        self._busy_timeout = _option(cfg, "busy_timeout_ms", log, _int_ok(50, 10000))
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
                sock = self._sock if self._sock is not None else __import__("socket")
                ip = sock.getaddrinfo(self.servers[i], 123)[0][-1][0]
                self._ips[i] = ip
                self._fails[i] = 0
            except Exception as e:      # DNS down, no link: the old address (if any) is asked
                self.last_error = "%s: DNS %s" % (self.servers[i], _err(e))
        return ip

    def _ask(self, i, timeout_ms, may_block):
        """One NTP query to server i; returns seconds or None (last_error says why)."""
        ip = self._resolve(i, may_block)
        if ip is None:
            if not may_block:
                self.last_error = "%s: address not known yet" % self.servers[i]
            return None
        ntp = self._ntp
        ntp.host = ip
        ntp.timeout = timeout_ms / 1000     # the socket's timeout: the longest this blocks
        try:
            secs = int(ntp.time())
        except Exception as e:          # timeout, short or malformed answer, link down
            self.last_error = "%s: %s" % (self.servers[i], _err(e))
            self._fails[i] += 1         # the name may point elsewhere now: see _resolve
            return None
        self._fails[i] = 0
        return secs

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
            self.rejected += 1
            self.last_error = "%s: rejected, %s" % (self.servers[i], why)
            self._warn("time: %s", self.last_error)
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

    def _attempt(self, timeout_ms, may_block):
        self._confirming = False
        i = self._next
        self._next = (i + 1) % len(self.servers)
        secs = self._ask(i, timeout_ms, may_block)
        return secs is not None and self._judge(i, secs)

    # ---------------------------------------------------------------- public

    def boot(self, tick=None):
        """Sync at start-up: servers in turn until one sync, two rounds or boot_budget_ms.
        tick(): called between attempts (the caller feeds its watchdog and LED there: each
        attempt may block for timeout_ms).

        Returns synced. Skips the network when the RTC was trusted after a wake."""
        if self.synced:
            self._due.set(5000)          # a cheap check soon, no hurry
            return True
        start = self._ticks()
        for _ in range(2 * len(self.servers)):
            if tick:
                tick()
            if self._attempt(self._timeout, True):
                break
            if time.ticks_diff(self._ticks(), start) >= self._budget:
                break
        self._schedule(self.synced)
        if not self.synced:
            self._warn("time: not synced at boot (%s); retrying in %d s", self.last_error,
                       self._due.left() // 1000)
        return self.synced

    def poll(self, busy=False, online=True):
        """Call often from the camera loop: at most one query, only when due. -> synced."""
        if not online or not self._due.passed():
            return self.synced
        ok = self._attempt(self._busy_timeout if busy else self._timeout, not busy)
        self._schedule(ok)
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


def _fmt(t):
    return "%04d-%02d-%02d %02d:%02d:%02d" % t[:6] if t else "?"


def _err(e):
    return "%s %s" % (type(e).__name__, e)
