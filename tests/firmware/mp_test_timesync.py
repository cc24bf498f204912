# timesync: which NTP answers set the RTC, back-off, trust after a wake, local time + DST.
# The ntptime module, RTC, DNS and ticks are fakes; the answers are what the frozen
# ntptime returns for the packets a server sends (its era rule applied).
import time
import random
import timesync
from fakes import Ticks, Log, CameraTicks, GmtimeOverflow
import timeutil

NTP_DELTA = 2208988800
MIN_NTP = 3913056000                   # ntptime: below this (2024) means the next era


def ntptime_reading(transmit):
    """What ntptime.time() returns for a packet whose transmit seconds are `transmit`."""
    if transmit < MIN_NTP:
        transmit += 0x100000000
    return transmit - NTP_DELTA


def secs(y, mo, d, h=0, mi=0, s=0):
    return time.mktime((y, mo, d, h, mi, s, 0, 0))


NOW = secs(2026, 11, 23, 15, 45, 1)


class Rtc:
    def __init__(self, ticks, start):
        self.ticks = ticks
        self.base = start
        self.at = ticks.t
        self.sets = []

    def now(self):
        return self.base + (self.ticks.t - self.at) // 1000

    def set(self, s):
        self.base = s
        self.at = self.ticks.t
        self.sets.append(s)


class Ntp:
    """Fake ntptime: per-host answers; an answer is seconds, an exception, or a callable."""
    def __init__(self, ticks, answers):
        self.ticks = ticks
        self.answers = answers
        self.host = "pool.ntp.org"
        self.timeout = 1
        self.queries = []

    def time(self):
        self.queries.append((self.host, self.timeout))
        a = self.answers[self.host]
        if callable(a):
            a = a()
        if isinstance(a, list):
            a = a.pop(0) if len(a) > 1 else a[0]
        if isinstance(a, Exception):
            self.ticks.t += int(self.timeout * 1000)      # a timeout takes its time
            raise a
        self.ticks.t += 5
        return a


class Dns:
    def __init__(self, table):
        self.table = table
        self.lookups = []

    def getaddrinfo(self, host, port):
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(-2)
        return [(2, 1, 0, "", (self.table[host], port))]


def real_time(rtc_ticks):
    # a good server: the true time, moving with the fake ticks
    start = rtc_ticks.t
    return lambda: NOW + (rtc_ticks.t - start) // 1000


def make(answers, servers=None, rtc_start=secs(2013, 1, 1), cfg=None, **kw):
    ticks = Ticks(1000)
    rtc = Rtc(ticks, rtc_start)
    ntp = Ntp(ticks, answers)
    c = {"ntp_servers": servers or list(answers)}
    c.update(cfg or {})
    log = Log()
    ts = timesync.TimeSync(c, log, ntp=ntp, rtc=rtc, sock=Dns({}), ticks_ms=ticks, **kw)
    return ts, ntp, rtc, ticks, log


def test_good_server_syncs_rtc_at_boot():
    ticks = Ticks(1000)
    good = real_time(ticks)
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ntp = Ntp(ticks, {"10.0.0.1": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"]}, Log(), ntp=ntp, rtc=rtc, ticks_ms=ticks)
    assert ts.local_time() is None
    assert ts.boot()
    assert ts.synced and ts.source == "ntp"
    assert abs(rtc.now() - NOW) <= 1
    assert ts.local_time()[:5] == time.gmtime(rtc.now())[:5]
    # the frozen ntptime was given the configured server and the idle timeout (1 s)
    assert ntp.queries[0] == ("10.0.0.1", 1.0)


def test_kiss_of_death_is_rejected():
    kod = ntptime_reading(0)          # zero transmit timestamp
    assert time.gmtime(kod)[:6] == (2036, 2, 7, 6, 28, 16)
    # even with a max_year that would let 2036 through
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": kod}, cfg={"max_year": 2100})
    assert not ts.boot()
    assert not ts.synced and rtc.sets == [] and ts.local_time() is None
    assert ts.rejected >= 1
    assert "zero timestamp" in ts.last_error


def test_garbage_answers_never_sync():
    random.seed(5)
    vals = [ntptime_reading(random.getrandbits(32)) for _ in range(200)]
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": vals})
    ts.boot()
    for _ in range(100):
        ticks.t += 700000
        ts.poll()
    assert len(ntp.queries) > 50
    assert not ts.synced and rtc.sets == [] and ts.local_time() is None


def test_answers_before_2024_or_mapped_to_far_future_are_rejected():
    # a server 5 years behind: 2021 is below ntptime's pivot, so it reads as ~2157
    behind = ntptime_reading(NOW - 5 * 365 * 86400 + NTP_DELTA)
    assert behind > secs(2150, 1, 1)    # (not gmtime: firmware 4.5-4.7's raises from 2**31)
    ts, *_ = make({"10.0.0.1": behind})
    assert not ts.boot() and "implausible year" in ts.last_error
    # and a raw 2020 reading (another firmware's epoch handling) is rejected too
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": secs(2020, 6, 1)})
    assert not ts.boot() and rtc.sets == []
    # a year behind still passes ntptime's 2024 pivot; the release-year floor catches it
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": NOW - 365 * 86400})
    assert not ts.boot() and rtc.sets == [] and "2025" in ts.last_error


def test_large_jump_against_synced_rtc_is_rejected_small_drift_is_corrected():
    ticks = Ticks(1000)
    rtc = Rtc(ticks, NOW)
    answer = [NOW + 3 * 365 * 86400]       # well-formed, three years ahead
    ntp = Ntp(ticks, {"10.0.0.1": lambda: answer[0]})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"]}, Log(), ntp=ntp, rtc=rtc,
                           ticks_ms=ticks, woke=True, slept_at=NOW - 600)
    assert ts.synced and ts.source == "rtc"
    ticks.t += 10000
    ts.poll()
    assert len(ntp.queries) == 1
    assert rtc.sets == [] and "jump" in ts.last_error and ts.synced
    # a 5 s drift is an ordinary correction
    ticks.t += 3600 * 1000
    answer[0] = rtc.now() + 5
    ts.poll()
    assert rtc.sets == [answer[0]]


def test_disagreeing_servers_do_not_sync_a_third_one_decides():
    ticks = Ticks(1000)
    good = real_time(ticks)
    liar = lambda: good() + 2 * 365 * 86400
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ntp = Ntp(ticks, {"10.0.0.1": liar, "10.0.0.2": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1", "10.0.0.2"]}, Log(), ntp=ntp, rtc=rtc,
                           ticks_ms=ticks)
    assert not ts.boot()
    for _ in range(5):
        ticks.t += 700000
        ts.poll()
    assert not ts.synced and rtc.sets == []
    ntp = Ntp(ticks, {"10.0.0.1": liar, "10.0.0.2": good, "10.0.0.3": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}, Log(), ntp=ntp,
                           rtc=rtc, ticks_ms=ticks)
    assert ts.boot()
    assert abs(rtc.now() - good()) <= 1


def test_dead_server_is_skipped_for_the_next_one():
    ticks = Ticks(1000)
    good = real_time(ticks)
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ntp = Ntp(ticks, {"10.0.0.9": OSError(110), "10.0.0.2": good})
    log = Log()
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.9", "10.0.0.2"]}, log, ntp=ntp, rtc=rtc,
                           ticks_ms=ticks)
    assert ts.boot()
    assert [q[0] for q in ntp.queries] == ["10.0.0.9", "10.0.0.2", "10.0.0.9", "10.0.0.2"]
    assert abs(rtc.now() - good()) <= 1


def test_malformed_answers_are_caught():
    # ntptime raises whatever unpacking a short packet raises; it must not escape
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": ValueError("buffer too small")})
    assert not ts.boot()
    assert "ValueError" in ts.last_error


def test_failures_back_off_then_a_later_good_answer_syncs():
    ticks = Ticks(1000)
    good = real_time(ticks)
    state = {"up": False}
    ntp = Ntp(ticks, {"10.0.0.1": lambda: good() if state["up"] else OSError(110)})
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"], "retry_min_s": 10, "retry_max_s": 80},
                           Log(), ntp=ntp, rtc=rtc, ticks_ms=ticks)
    ts.boot()
    n0 = len(ntp.queries)
    times = []
    for _ in range(4000):               # 400 s of a busy loop, polled every 100 ms
        ticks.t += 100
        before = len(ntp.queries)
        ts.poll()
        if len(ntp.queries) > before:
            times.append(ticks.t)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 10, 20, 40, 80, 80 ... s (+ the 1 s each timeout took, within a poll step)
    assert n0 == 2 and len(times) >= 5
    assert [round(g / 10000) for g in gaps[:4]] == [2, 4, 8, 8], gaps
    state["up"] = True
    for _ in range(2000):
        ticks.t += 100
        ts.poll()
        if ts.synced:
            break
    assert ts.synced and abs(rtc.now() - good()) <= 1


def test_busy_poll_uses_short_timeout_and_no_dns():
    ticks = Ticks(1000)
    good = real_time(ticks)
    ntp = Ntp(ticks, {"192.0.2.7": good})
    dns = Dns({"ntp.example": "192.0.2.7"})
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ts = timesync.TimeSync({"ntp_servers": ["ntp.example"], "busy_timeout_ms": 200,
                            "sync_interval_s": 3600}, Log(),
                           ntp=ntp, rtc=rtc, sock=dns, ticks_ms=ticks)
    # busy before any lookup: the name is not resolved in the middle of a stream
    ts.poll(busy=True)
    assert dns.lookups == [] and ntp.queries == []
    assert ts.boot()                    # idle: resolves once, queries by address
    assert dns.lookups == ["ntp.example"]
    assert ntp.queries[0] == ("192.0.2.7", 1.0)
    ticks.t += 3600 * 1000
    ts.poll(busy=True)
    assert ntp.queries[-1] == ("192.0.2.7", 0.2)
    assert dns.lookups == ["ntp.example"]


def test_offline_poll_does_nothing():
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": NOW})
    ticks.t += 10 ** 6
    ts.poll(online=False)
    assert ntp.queries == []


def test_rtc_trusted_after_wake_without_waiting_for_ntp():
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": OSError(110)}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 3600)
    assert ts.synced and ts.source == "rtc"
    assert ts.boot() and ntp.queries == []
    assert ts.local_time()[:6] == time.gmtime(NOW)[:6]


def test_rtc_not_trusted_after_power_loss_or_without_wake():
    ts, *_ = make({"10.0.0.1": OSError(110)}, rtc_start=secs(2013, 1, 1, 0, 5), woke=True)
    assert not ts.synced and ts.local_time() is None
    ts, *_ = make({"10.0.0.1": OSError(110)}, rtc_start=NOW, woke=True, slept_at=NOW + 100)
    assert not ts.synced
    ts, *_ = make({"10.0.0.1": OSError(110)}, rtc_start=NOW, woke=False)
    assert not ts.synced


def local(ts, utc):
    return time.gmtime(ts.to_local(utc))[:6]


def test_utc_offset_and_eu_dst():
    ts, *_ = make({"10.0.0.1": NOW}, cfg={"utc_offset_minutes": 60, "dst": "eu"})
    # 2026: summer time from Sun 29 March 01:00 UTC to Sun 25 October 01:00 UTC
    assert local(ts, secs(2026, 1, 15, 12)) == (2026, 1, 15, 13, 0, 0)
    assert local(ts, secs(2026, 3, 29, 0, 59, 59)) == (2026, 3, 29, 1, 59, 59)
    assert local(ts, secs(2026, 3, 29, 1)) == (2026, 3, 29, 3, 0, 0)
    assert local(ts, secs(2026, 10, 25, 0, 59, 59)) == (2026, 10, 25, 2, 59, 59)
    assert local(ts, secs(2026, 10, 25, 1)) == (2026, 10, 25, 2, 0, 0)


def test_us_dst_and_negative_offset():
    ts, *_ = make({"10.0.0.1": NOW}, cfg={"utc_offset_minutes": -300, "dst": "US"})
    # 2026: from Sun 8 March 02:00 EST (07:00 UTC) to Sun 1 November 02:00 EDT (06:00 UTC)
    assert local(ts, secs(2026, 3, 8, 6, 59, 59)) == (2026, 3, 8, 1, 59, 59)
    assert local(ts, secs(2026, 3, 8, 7)) == (2026, 3, 8, 3, 0, 0)
    assert local(ts, secs(2026, 11, 1, 5, 59, 59)) == (2026, 11, 1, 1, 59, 59)
    assert local(ts, secs(2026, 11, 1, 6)) == (2026, 11, 1, 1, 0, 0)
    assert local(ts, secs(2026, 12, 24, 18)) == (2026, 12, 24, 13, 0, 0)


def test_bad_settings_fall_back_with_an_error_logged():
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": NOW}, cfg={"dst": 7, "utc_offset_minutes": "x"})
    assert local(ts, secs(2026, 7, 1, 12)) == (2026, 7, 1, 12, 0, 0)
    errors = [m for lvl, m in log.lines if lvl == "error"]
    assert any("dst" in m for m in errors) and any("utc_offset_minutes" in m for m in errors)


def test_poll_when_not_due_allocates_nothing():
    import gc
    import micropython
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": NOW}, rtc_start=NOW, woke=True)
    ts._due.set(10 ** 6)
    gc.collect()
    micropython.heap_lock()
    try:
        for _ in range(200):
            ticks.t += 33
            ts.poll(busy=True)
    finally:
        micropython.heap_unlock()
    assert ntp.queries == []


def test_2020_answer_on_a_gmtime_that_overflows_neither_crashes_nor_sets_the_clock():
    # firmware 4.5.0-4.7.x: gmtime() raises OverflowError from 2**31, and ntptime reads a
    # 2020 server (or garbage) as ~2156: such a value never reaches gmtime()
    with GmtimeOverflow() as g:
        answer = ntptime_reading(secs(2020, 6, 1) + NTP_DELTA)
        assert answer >= 1 << 31
        ts, ntp, rtc, ticks, log = make({"10.0.0.1": answer}, cfg={"dst": "eu"})
        assert not ts.boot()
        for _ in range(5):
            ticks.t += 700000
            ts.poll()
        random.seed(7)
        ts2, ntp2, rtc2, ticks2, log2 = make(
            {"10.0.0.1": [ntptime_reading(random.getrandbits(32)) for _ in range(100)]})
        ts2.boot()
        for _ in range(60):
            ticks2.t += 700000
            ts2.poll()
    assert len(ntp.queries) >= 3 and rtc.sets == [] and not ts.synced
    assert "implausible year 2156" in ts.last_error and ts.local_time() is None
    assert rtc2.sets == [] and not ts2.synced
    assert g.refused == 0


def test_times_past_2038_are_refused_on_every_firmware():
    # a clock set past 2**31 would stop every later gmtime() on 4.5.0-4.7.x: never set it
    for answer in ((1 << 31) + 100, timeutil.LATEST + 1):
        ts, ntp, rtc, ticks, log = make({"10.0.0.1": answer}, cfg={"max_year": 2100})
        assert not ts.boot() and rtc.sets == [], answer
    # the last accepted second still shows as local time with the largest offset and DST
    with GmtimeOverflow() as g:
        ts, ntp, rtc, ticks, log = make({"10.0.0.1": OSError(110)}, cfg={
            "max_year": 2100, "utc_offset_minutes": 840, "dst": "eu"},
            rtc_start=timeutil.LATEST, woke=True, slept_at=timeutil.LATEST - 600)
        assert ts.synced
        assert ts.local_time()[:3] == (2038, 1, 17)
    assert g.refused == 0


def test_rtc_set_by_someone_else_past_2038_is_not_shown():
    ts, ntp, rtc, ticks, log = make({"10.0.0.1": OSError(110)}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 60)
    assert ts.synced
    rtc.base = (1 << 31) + 5             # e.g. set from the REPL
    with GmtimeOverflow() as g:
        assert ts.local_time() is None
    assert g.refused == 0


def test_weekly_sync_interval_survives_the_tick_wrap():
    # ticks_diff() is only valid below 2**29 ms (6.2 days): a 7-day interval counted on
    # ticks would never come due; this one does, across two wraps of the counter
    with CameraTicks():
        ticks = Ticks((1 << 30) - 10000)          # 10 s before the wrap
        good = real_time(ticks)
        rtc = Rtc(ticks, secs(2013, 1, 1))
        ntp = Ntp(ticks, {"10.0.0.1": good})
        ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"], "sync_interval_s": 7 * 86400},
                               Log(), ntp=ntp, rtc=rtc, ticks_ms=ticks)
        assert ts.boot()
        t0 = ticks.t
        when = []
        while ticks.t - t0 < 22 * 86400 * 1000:
            ticks.t += 60000
            n = len(ntp.queries)
            ts.poll()
            if len(ntp.queries) > n:
                when.append((ticks.t - t0) // 60000)
    week = 7 * 24 * 60
    assert when == [week, 2 * week, 3 * week], when


def test_a_week_offline_then_online_syncs_at_once():
    with CameraTicks():
        ts, ntp, rtc, ticks, log = make({"10.0.0.1": OSError(110)},
                                        cfg={"retry_min_s": 10, "retry_max_s": 600})
        ticks.t = (1 << 30) - 5000
        ts.boot()
        n = len(ntp.queries)
        for _ in range(8 * 24 * 60):           # 8 days offline, a poll a minute
            ticks.t += 60000
            ts.poll(online=False)
        assert len(ntp.queries) == n
        ticks.t += 100
        ts.poll()
    assert len(ntp.queries) == n + 1
