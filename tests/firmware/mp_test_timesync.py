# timesync: which NTP answers set the RTC, back-off, trust after a wake, local time + DST.
# The network (the socket module: getaddrinfo, non-blocking UDP sockets, NTP servers that
# answer after a few ms of the fake ticks), RTC and ticks are fakes; the answers are NTP
# packets as a server sends them.
import time
import random
import struct
import timesync
from fakes import Ticks, Log, CameraTicks, GmtimeOverflow, HeapLocked
import timeutil

NTP_DELTA = 2208988800


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


def packet(req, unix=None, ntp=None, mode=4, stratum=2, li=0, echo=True, frac=0,
           refid=b"GPS\0"):
    """A server's answer to the request `req`: transmit time `unix` (port seconds) or raw
    NTP seconds `ntp`; echo: the originate timestamp is the request's transmit timestamp."""
    pkt = bytearray(48)
    pkt[0] = li << 6 | 4 << 3 | mode
    pkt[1] = stratum
    pkt[12:16] = refid
    if echo:
        pkt[24:32] = req[40:48]
    t = ntp if ntp is not None else (unix + NTP_DELTA) & 0xFFFFFFFF
    struct.pack_into("!IIII", pkt, 32, t, frac, t, frac)
    return bytes(pkt)


class Udp:
    def __init__(self, net):
        self.net = net
        self.blocking = True
        self.inbox = []             # [ticks when it arrives, datagram]
        self.closed = False

    def setblocking(self, flag):
        self.blocking = flag

    def sendto(self, pkt, addr):
        net = self.net
        if net.send_error:
            raise net.send_error
        assert len(pkt) == 48 and addr[1] == 123
        net.queries.append(addr[0])
        net.sent.append(bytes(pkt))
        for d in net.answer(addr[0], pkt):
            self.inbox.append([net.ticks.t + net.delay_ms, d])

    def readinto(self, buf):
        # the camera's non-blocking readinto: None at once when nothing came, no exception
        assert not self.blocking, "a blocking read would stall the camera loop"
        self.net.reads += 1
        if not self.inbox or self.inbox[0][0] > self.net.ticks.t:
            return None
        d = self.inbox.pop(0)[1]
        n = min(len(d), len(buf))
        buf[:n] = d[:n]
        return n if n == len(buf) else None    # py/stream.c: a short datagram reads as None

    def close(self):
        assert not self.closed
        self.closed = True
        self.net.open -= 1


class Net:
    """Fake socket module. answers: {address: spec}; a spec is Unix seconds (a good answer),
    None (silent), bytes (that datagram), a function of the request giving bytes, a tuple
    (several datagrams), a callable of no argument giving a spec, or a list (one spec per
    query, the last one kept)."""
    AF_INET = 2
    SOCK_DGRAM = 2

    def __init__(self, ticks, answers, table=None, pcbs=3):
        self.ticks = ticks
        self.answers = answers
        self.table = table or {}
        self.lookups = []
        self.queries = []
        self.sent = []
        self.open = 0
        self.pcbs = pcbs
        self.reads = 0
        self.delay_ms = 5
        self.send_error = None

    def getaddrinfo(self, host, port):
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(-2)
        return [(2, 1, 0, "", (self.table[host], port))]

    def socket(self, af, typ):
        assert af == 2 and typ == 2
        if self.open >= self.pcbs:
            raise OSError(12)           # ENOMEM: modlwip finds no UDP PCB
        self.open += 1
        return Udp(self)

    def answer(self, host, req):
        a = self.answers[host]
        if isinstance(a, list):
            a = a.pop(0) if len(a) > 1 else a[0]
        if callable(a) and not isinstance(a, type):
            try:
                a = a()
            except TypeError:
                a = a(req)
        if a is None:
            return ()
        if not isinstance(a, tuple):
            a = (a,)
        return [packet(req, unix=x) if isinstance(x, int) else
                (x(req) if callable(x) else x) for x in a]


def real_time(rtc_ticks):
    # a good server: the true time, moving with the fake ticks
    start = rtc_ticks.t
    return lambda: NOW + (rtc_ticks.t - start) // 1000


def sleeper(ticks):
    def sleep_ms(ms):
        ticks.t += ms
    return sleep_ms


def ntp_of(unix):
    """NTP seconds of port seconds (the raw transmit field)."""
    return (unix + NTP_DELTA) & 0xFFFFFFFF


def make(answers, servers=None, rtc_start=secs(2013, 1, 1), cfg=None, ticks=None, **kw):
    ticks = ticks or Ticks(1000)
    rtc = Rtc(ticks, rtc_start)
    net = Net(ticks, answers)
    c = {"ntp_servers": servers or list(answers)}
    c.update(cfg or {})
    log = Log()
    ts = timesync.TimeSync(c, log, rtc=rtc, sock=net, ticks_ms=ticks, sleep_ms=sleeper(ticks),
                           **kw)
    return ts, net, rtc, ticks, log


def until_done(ts, ticks, net, busy=False, step=10, limit=100000):
    """Poll every `step` ms until the exchange under way is over."""
    for _ in range(limit):
        if ts._s is None:
            return
        ticks.t += step
        ts.poll(busy=busy)
    raise AssertionError("the exchange never ended")


def test_good_server_syncs_rtc_at_boot():
    ticks = Ticks(1000)
    good = real_time(ticks)
    rtc = Rtc(ticks, secs(2013, 1, 1))
    net = Net(ticks, {"10.0.0.1": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"]}, Log(), rtc=rtc, sock=net,
                           ticks_ms=ticks, sleep_ms=sleeper(ticks))
    assert ts.local_time() is None
    assert ts.boot()
    assert ts.synced and ts.source == "ntp"
    assert abs(rtc.now() - NOW) <= 1
    assert ts.local_time()[:5] == time.gmtime(rtc.now())[:5]
    assert net.queries == ["10.0.0.1", "10.0.0.1"] and net.lookups == []   # two that agree
    assert net.open == 0                 # the socket lives only for its exchange


def test_request_is_an_ntpv4_client_packet_with_a_random_transmit_timestamp():
    nonces = [bytes([7] * 8), bytes([9] * 8)]
    ts, net, rtc, ticks, log = make({"10.0.0.1": NOW}, random=lambda n: nonces.pop(0))
    ts.boot()
    req = net.sent[0]
    assert req[0] == 0x23                # leap 0, version 4, mode 3 (client)
    assert req[1:40] == bytes(39)        # nothing else about the camera is sent
    assert req[40:48] == bytes([7] * 8) and net.sent[1][40:48] == bytes([9] * 8)


def test_answer_time_is_rounded_with_half_the_round_trip():
    # 0.75 s into the second at the server, 500 ms there and back: 1 s after it sent
    ts, net, rtc, ticks, log = make({"10.0.0.1": lambda req: packet(req, unix=NOW, frac=3 << 30)},
                                    rtc_start=NOW - 30, woke=True, slept_at=NOW - 60)
    net.delay_ms = 500
    ticks.t += 10000
    ts.poll()
    until_done(ts, ticks, net)
    assert rtc.sets == [NOW + 1]


def test_an_answer_that_does_not_echo_our_request_is_ignored():
    # another datagram first (a spoofer, a late answer to an earlier request), then ours
    stray = lambda req: packet(req, unix=NOW + 86400, echo=False)
    ts, net, rtc, ticks, log = make({"10.0.0.1": lambda: (stray, NOW)}, rtc_start=NOW - 30,
                                    woke=True, slept_at=NOW - 60)
    ticks.t += 10000
    ts.poll()
    until_done(ts, ticks, net)
    assert rtc.sets == [NOW] and ts.rejected == 0
    # only strangers, garbage or a short packet: no answer, the exchange fails at its deadline
    for spec in (stray, bytes(48), b"\x24\x02", lambda: (bytes(random.getrandbits(8)
                                                             for _ in range(48)),)):
        net.answers["10.0.0.1"] = spec
        ticks.t += 6 * 3600 * 1000
        ts.poll()
        t0 = ticks.t
        until_done(ts, ticks, net)
        assert ticks.t - t0 >= 1000 and "no answer in 1000 ms" in ts.last_error, ts.last_error
    assert len(rtc.sets) == 1 and net.open == 0


def test_kiss_of_death_and_unsynchronized_servers_are_rejected():
    cases = [
        (dict(stratum=0, refid=b"RATE", ntp=0), "kiss-o'-death RATE"),
        (dict(stratum=0, refid=b"DENY"), "kiss-o'-death DENY"),
        (dict(stratum=16), "stratum 16"),
        (dict(li=3), "leap indicator 3"),
        (dict(mode=3), "mode 3"),           # our own request reflected back
        (dict(ntp=0), "zero timestamp"),
    ]
    for kw, why in cases:
        kw.setdefault("unix", NOW)
        # even with a max_year that would let the zero timestamp's 2036 through
        ts, net, rtc, ticks, log = make(
            {"10.0.0.1": lambda req, kw=kw: packet(req, **kw)}, cfg={"max_year": 2100})
        assert not ts.boot()
        assert not ts.synced and rtc.sets == [] and ts.local_time() is None
        assert ts.rejected == 2 and why in ts.last_error, (why, ts.last_error)
        assert net.open == 0


def test_kiss_of_death_backs_off_then_a_good_answer_syncs():
    ticks = Ticks(1000)
    good = real_time(ticks)
    kod = lambda req: packet(req, stratum=0, refid=b"RATE", ntp=0)
    answers = {"10.0.0.1": kod}
    ts, net, rtc, ticks, log = make(answers, ticks=ticks)
    assert not ts.boot()
    assert ts._due.left() >= 9000        # not hammered again at once
    answers["10.0.0.1"] = good
    for _ in range(200):
        ticks.t += 1000
        ts.poll()
    assert ts.synced and abs(rtc.now() - good()) <= 1


def test_garbage_answers_never_sync():
    random.seed(5)
    vals = [(lambda req, t=random.getrandbits(32): packet(req, ntp=t)) for _ in range(200)]
    ts, net, rtc, ticks, log = make({"10.0.0.1": vals})
    ts.boot()
    for _ in range(100):
        ticks.t += 700000
        ts.poll()
        until_done(ts, ticks, net)
    assert len(net.queries) > 50
    assert not ts.synced and rtc.sets == [] and ts.local_time() is None


def test_answers_from_a_wrong_year_are_rejected():
    # a server 6 years behind reads as 2020 (no era guess past the port's epoch)
    ts, net, rtc, ticks, log = make({"10.0.0.1": secs(2020, 6, 1)})
    assert not ts.boot() and rtc.sets == [] and "implausible year 2020" in ts.last_error
    # a transmit time from NTP's first years (a server clock counting up from 0) is no
    # guess at the next era (2036): it reads 1900 whatever max_year allows
    ts, net, rtc, ticks, log = make({"10.0.0.1": lambda req: packet(req, ntp=1000)},
                                    cfg={"max_year": 2100})
    assert not ts.boot() and rtc.sets == [] and "implausible year 1900" in ts.last_error
    # a year behind: the release-year floor catches it
    ts, net, rtc, ticks, log = make({"10.0.0.1": NOW - 365 * 86400})
    assert not ts.boot() and rtc.sets == [] and "2025" in ts.last_error


def test_ntp_seconds_map_to_port_seconds_without_floats_or_big_ints():
    # every transmit second of the era, through the 16-bit halves: the exact difference
    random.seed(11)
    for t in [0, 1, NTP_DELTA - 1, NTP_DELTA, NTP_DELTA + 1, 0xFFFFFFFF] + \
            [random.getrandbits(32) for _ in range(300)]:
        req = bytearray(48)
        pkt = bytearray(packet(req, ntp=t))
        got = timesync._seconds(pkt, 0)
        want = t - NTP_DELTA - timeutil.EPOCH_DAYS * 86400
        assert got == want or (t == 0 and got == "zero timestamp"), (t, got, want)


def test_dead_server_is_skipped_for_the_next_one():
    ticks = Ticks(1000)
    good = real_time(ticks)
    answers = {"10.0.0.9": None, "10.0.0.2": good}
    ts, net, rtc, ticks, log = make(answers, servers=["10.0.0.9", "10.0.0.2"],
                                    ticks=ticks)
    assert ts.boot()
    assert net.queries == ["10.0.0.9", "10.0.0.2", "10.0.0.9", "10.0.0.2"]
    assert abs(rtc.now() - good()) <= 1


def test_no_answer_never_blocks_each_poll_returns_at_once():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 60)
    ts._sleep = None                     # poll() must never sleep
    ticks.t += 10000
    polls = 0
    while True:
        before = ticks.t
        ts.poll(busy=True)
        assert ticks.t == before         # nothing in poll() waits (the fake clock stands)
        polls += 1
        if ts._s is None and polls > 1:
            break
        ticks.t += 3
        assert polls < 1000
    # one send, then one non-blocking read per pass until the 1 s deadline, socket closed
    assert net.queries == ["10.0.0.1"] and net.open == 0
    assert 330 <= net.reads <= 340 and "no answer in 1000 ms" in ts.last_error


def test_deadline_is_timeout_ms_and_failures_back_off():
    ticks = Ticks(1000)
    good = real_time(ticks)
    state = {"up": False}
    answers = {"10.0.0.1": lambda: good() if state["up"] else None}
    ts, net, rtc, ticks, log = make(answers, cfg={"retry_min_s": 10, "retry_max_s": 80,
                                                  "timeout_ms": 400}, ticks=ticks)
    t0 = ticks.t
    ts.boot()
    assert ticks.t - t0 == 800           # two attempts of 400 ms, in 5 ms steps
    n0 = len(net.queries)
    times = []
    for _ in range(4000):               # 400 s of a busy loop, polled every 100 ms
        ticks.t += 100
        before = len(net.queries)
        ts.poll()
        if len(net.queries) > before:
            times.append(ticks.t)
    gaps = [b - a for a, b in zip(times, times[1:])]
    # 10, 20, 40, 80, 80 ... s after each failure (+ the 0.4 s each waited)
    assert n0 == 2 and len(times) >= 5
    assert [round(g / 10000) for g in gaps[:4]] == [2, 4, 8, 8], gaps
    state["up"] = True
    for _ in range(2000):
        ticks.t += 100
        ts.poll()
        if ts.synced:
            break
    assert ts.synced and abs(rtc.now() - good()) <= 1


def test_no_udp_socket_left_is_a_failed_attempt_logged_once():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 60)
    net.pcbs = 0                         # UDP viewers hold the PCBs DHCP and mDNS left
    for _ in range(5):
        ticks.t += 700000
        ts.poll(busy=True)
    assert net.queries == [] and "no UDP socket" in ts.last_error
    warned = [m for lvl, m in log.lines if "no UDP socket" in m]
    assert len(warned) == 1, warned
    net.pcbs = 3
    net.answers["10.0.0.1"] = rtc.now
    ticks.t += 700000
    ts.poll()
    until_done(ts, ticks, net)
    assert rtc.sets and net.open == 0
    net.pcbs = 0                         # again later: logged again (once)
    ticks.t += 7 * 3600 * 1000
    ts.poll()
    assert len([m for lvl, m in log.lines if "no UDP socket" in m]) == 2


def test_send_without_packet_memory_fails_and_closes_the_socket():
    ts, net, rtc, ticks, log = make({"10.0.0.1": NOW})
    net.send_error = OSError(12)         # modlwip lwip_raw_udp_send: ENOMEM
    assert not ts.boot()
    assert net.open == 0 and "OSError" in ts.last_error


def test_link_loss_during_an_exchange_ends_it():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 60)
    ticks.t += 10000
    ts.poll()
    assert net.open == 1
    ticks.t += 10
    ts.poll(online=False)
    assert net.open == 0 and "link down" in ts.last_error


def test_large_jump_against_synced_rtc_is_rejected_small_drift_is_corrected():
    ticks = Ticks(1000)
    rtc = Rtc(ticks, NOW)
    answer = [NOW + 3 * 365 * 86400]       # well-formed, three years ahead
    net = Net(ticks, {"10.0.0.1": lambda: answer[0]})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"]}, Log(), rtc=rtc, sock=net,
                           ticks_ms=ticks, woke=True, slept_at=NOW - 600)
    assert ts.synced and ts.source == "rtc"
    ticks.t += 10000
    ts.poll()
    until_done(ts, ticks, net)
    assert len(net.queries) == 1
    assert rtc.sets == [] and "jump" in ts.last_error and ts.synced
    # a 5 s drift is an ordinary correction
    ticks.t += 3600 * 1000
    answer[0] = rtc.now() + 5
    ts.poll()
    until_done(ts, ticks, net)
    assert rtc.sets == [answer[0]]


def test_disagreeing_servers_do_not_sync_a_third_one_decides():
    ticks = Ticks(1000)
    good = real_time(ticks)
    liar = lambda: good() + 2 * 365 * 86400
    rtc = Rtc(ticks, secs(2013, 1, 1))
    net = Net(ticks, {"10.0.0.1": liar, "10.0.0.2": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1", "10.0.0.2"]}, Log(), rtc=rtc, sock=net,
                           ticks_ms=ticks, sleep_ms=sleeper(ticks))
    assert not ts.boot()
    for _ in range(5):
        ticks.t += 700000
        ts.poll()
        until_done(ts, ticks, net)
    assert not ts.synced and rtc.sets == []
    net = Net(ticks, {"10.0.0.1": liar, "10.0.0.2": good, "10.0.0.3": good})
    ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]}, Log(),
                           rtc=rtc, sock=net, ticks_ms=ticks, sleep_ms=sleeper(ticks))
    assert ts.boot()
    assert abs(rtc.now() - good()) <= 1


def test_busy_poll_looks_no_name_up():
    ticks = Ticks(1000)
    good = real_time(ticks)
    net = Net(ticks, {"192.0.2.7": good}, table={"ntp.example": "192.0.2.7"})
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ts = timesync.TimeSync({"ntp_servers": ["ntp.example"], "sync_interval_s": 3600}, Log(),
                           rtc=rtc, sock=net, ticks_ms=ticks, sleep_ms=sleeper(ticks))
    # busy before any lookup: the name is not resolved in the middle of a stream
    ts.poll(busy=True)
    assert net.lookups == [] and net.queries == []
    assert ts.boot()                    # idle: resolves once, queries by address
    assert net.lookups == ["ntp.example"]
    assert net.queries[0] == "192.0.2.7"
    ticks.t += 3600 * 1000
    ts.poll(busy=True)
    until_done(ts, ticks, net, busy=True)
    assert net.queries[-1] == "192.0.2.7" and len(rtc.sets) == 2
    assert net.lookups == ["ntp.example"]


def test_offline_poll_does_nothing():
    ts, net, rtc, ticks, log = make({"10.0.0.1": NOW})
    ticks.t += 10 ** 6
    ts.poll(online=False)
    assert net.queries == []


def test_rtc_trusted_after_wake_without_waiting_for_ntp():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 3600)
    assert ts.synced and ts.source == "rtc"
    assert ts.boot() and net.queries == []
    assert ts.local_time()[:6] == time.gmtime(NOW)[:6]


def test_rtc_not_trusted_after_power_loss_or_without_wake():
    ts, *_ = make({"10.0.0.1": None}, rtc_start=secs(2013, 1, 1, 0, 5), woke=True)
    assert not ts.synced and ts.local_time() is None
    ts, *_ = make({"10.0.0.1": None}, rtc_start=NOW, woke=True, slept_at=NOW + 100)
    assert not ts.synced
    ts, *_ = make({"10.0.0.1": None}, rtc_start=NOW, woke=False)
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
    ts, net, rtc, ticks, log = make({"10.0.0.1": NOW}, rtc_start=NOW, woke=True)
    ts._due.set(10 ** 6)
    with HeapLocked():
        for _ in range(200):
            ticks.t += 33
            ts.poll(busy=True)
    assert net.queries == []


def test_polls_waiting_for_an_answer_allocate_nothing():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
                                    slept_at=NOW - 60)
    ticks.t += 10000
    ts.poll(busy=True)                   # the exchange starts (that allocates: once)
    assert net.open == 1
    with HeapLocked():
        for _ in range(100):
            ticks.t += 5
            ts.poll(busy=True)
    assert net.reads == 100 and net.open == 1


def test_2020_answer_on_a_gmtime_that_overflows_neither_crashes_nor_sets_the_clock():
    # firmware 4.5.0-4.7.x: gmtime() raises OverflowError from 2**31 (and below 0 on some):
    # a 2020 answer, a 1900 one and garbage (1900..2036) never reach gmtime()
    with GmtimeOverflow() as g:
        ts, net, rtc, ticks, log = make({"10.0.0.1": secs(2020, 6, 1)}, cfg={"dst": "eu"})
        assert not ts.boot()
        for _ in range(5):
            ticks.t += 700000
            ts.poll()
            until_done(ts, ticks, net)
        random.seed(7)
        ts2, net2, rtc2, ticks2, log2 = make(
            {"10.0.0.1": [(lambda req, t=random.getrandbits(32): packet(req, ntp=t))
                          for _ in range(100)]})
        ts2.boot()
        for _ in range(60):
            ticks2.t += 700000
            ts2.poll()
            until_done(ts2, ticks2, net2)
        ts3, *_ = make({"10.0.0.1": lambda req: packet(req, ntp=12345)})
        assert not ts3.boot() and "implausible year 1900" in ts3.last_error
    assert len(net.queries) >= 3 and rtc.sets == [] and not ts.synced
    assert "implausible year 2020" in ts.last_error and ts.local_time() is None
    assert rtc2.sets == [] and not ts2.synced
    assert g.refused == 0


def test_times_past_2038_are_refused_on_every_firmware():
    # a clock set past 2**31 would stop every later gmtime() on 4.5.0-4.7.x: never set it
    for answer in ((1 << 31) + 100, timeutil.LATEST + 1):
        ts, net, rtc, ticks, log = make({"10.0.0.1": answer}, cfg={"max_year": 2100})
        assert not ts.boot() and rtc.sets == [], answer
    # the last accepted second still shows as local time with the largest offset and DST
    with GmtimeOverflow() as g:
        ts, net, rtc, ticks, log = make({"10.0.0.1": None}, cfg={
            "max_year": 2100, "utc_offset_minutes": 840, "dst": "eu"},
            rtc_start=timeutil.LATEST, woke=True, slept_at=timeutil.LATEST - 600)
        assert ts.synced
        assert ts.local_time()[:3] == (2038, 1, 17)
    assert g.refused == 0


def test_rtc_set_by_someone_else_past_2038_is_not_shown():
    ts, net, rtc, ticks, log = make({"10.0.0.1": None}, rtc_start=NOW, woke=True,
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
        net = Net(ticks, {"10.0.0.1": good})
        ts = timesync.TimeSync({"ntp_servers": ["10.0.0.1"], "sync_interval_s": 7 * 86400},
                               Log(), rtc=rtc, sock=net, ticks_ms=ticks,
                               sleep_ms=sleeper(ticks))
        assert ts.boot()
        t0 = ticks.t
        when = []
        while ticks.t - t0 < 22 * 86400 * 1000:
            ticks.t += 60000
            n = len(net.queries)
            ts.poll()
            if len(net.queries) > n:
                when.append((ticks.t - t0) // 60000)
                until_done(ts, ticks, net)
    week = 7 * 24 * 60
    assert when == [week, 2 * week, 3 * week], when
    assert len(rtc.sets) == 4


def test_a_week_offline_then_online_syncs_at_once():
    with CameraTicks():
        ts, net, rtc, ticks, log = make({"10.0.0.1": None},
                                        cfg={"retry_min_s": 10, "retry_max_s": 600})
        ticks.t = (1 << 30) - 5000
        ts.boot()
        n = len(net.queries)
        for _ in range(8 * 24 * 60):           # 8 days offline, a poll a minute
            ticks.t += 60000
            ts.poll(online=False)
        assert len(net.queries) == n
        ticks.t += 100
        ts.poll()
    assert len(net.queries) == n + 1
