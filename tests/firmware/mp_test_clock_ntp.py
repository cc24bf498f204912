# timesync and DNS: on the camera getaddrinfo() blocks everything until lwIP's DNS answers
# (or 7 s per DNS server without an answer), so a server's name is looked up once and its
# address remembered across syncs; looked up again only after failed queries, never while
# a viewer plays, and a lookup that fails leaves the old address in use.
import timesync
from fakes import Ticks, Log
from mp_test_timesync import Rtc, Ntp, Dns, real_time, secs

IP = "10.0.0.7"


def make(answer=None, table=None, **cfg):
    ticks = Ticks(1000)
    rtc = Rtc(ticks, secs(2013, 1, 1))
    ntp = Ntp(ticks, {IP: answer or real_time(ticks), "10.0.0.8": real_time(ticks)})
    dns = Dns({"ntp.example": IP} if table is None else table)
    c = {"ntp_servers": ["ntp.example"]}
    c.update(cfg)
    ts = timesync.TimeSync(c, Log(), ntp=ntp, rtc=rtc, sock=dns, ticks_ms=ticks)
    return ts, ntp, dns, ticks, rtc


def until_due(ts, ticks, busy):
    """Advance to the next due query and poll once."""
    for _ in range(100000):
        if ts._due.passed():
            break
        ticks.t += 60000
    ts.poll(busy=busy)


def test_one_lookup_across_several_syncs():
    ts, ntp, dns, ticks, rtc = make()
    assert ts.boot()                     # two agreeing answers: synced
    for busy in (False, True, False, True, True, False):
        until_due(ts, ticks, busy)
    assert len(rtc.sets) == 7            # boot + six interval syncs
    assert dns.lookups == ["ntp.example"] and ts.lookups == 1
    assert all(h == IP for h, _ in ntp.queries)


def test_failures_relook_the_name_up_only_when_no_viewer_plays():
    answers = [OSError(110)] * 6 + [secs(2026, 11, 23)]
    ts, ntp, dns, ticks, rtc = make(answer=answers)
    ts.boot()                            # two timeouts: the address is kept for now
    assert dns.lookups == ["ntp.example"]
    assert [h for h, _ in ntp.queries] == [IP, IP]
    for _ in range(3):                   # a viewer plays: the known address, short timeout
        until_due(ts, ticks, busy=True)
    assert dns.lookups == ["ntp.example"]
    assert ntp.queries[2:] == [(IP, 0.3)] * 3
    until_due(ts, ticks, busy=False)     # nobody watching: the name is looked up again
    assert dns.lookups == ["ntp.example"] * 2
    assert ntp.queries[-1] == (IP, 1.0)


def test_a_failed_relookup_keeps_the_old_address():
    ts, ntp, dns, ticks, rtc = make(answer=[OSError(110), OSError(110), secs(2026, 11, 23)])
    ts.boot()
    dns.table = {}                       # DNS down now
    until_due(ts, ticks, busy=False)
    assert dns.lookups == ["ntp.example"] * 2
    assert ntp.queries[-1][0] == IP      # asked anyway
    assert "DNS" not in (ts.last_error or "")   # the query's outcome is what is reported


def test_no_address_at_boot_no_lookup_while_a_viewer_plays():
    ts, ntp, dns, ticks, rtc = make(table={})
    assert not ts.boot()
    n = len(dns.lookups)
    assert n >= 1 and ntp.queries == []
    for _ in range(4):
        until_due(ts, ticks, busy=True)
    assert len(dns.lookups) == n and ntp.queries == []
    dns.table = {"ntp.example": "10.0.0.8"}     # DNS back (and another address)
    until_due(ts, ticks, busy=False)
    assert len(dns.lookups) == n + 1 and ntp.queries[-1][0] == "10.0.0.8"
