# timesync and DNS: on the camera getaddrinfo() blocks everything until lwIP's DNS answers
# (or 7 s per DNS server without an answer), so a server's name is looked up once and its
# address remembered across syncs; looked up again only after failed queries, never while
# a viewer plays, and a lookup that fails leaves the old address in use.
# Then the exchange on the emulator's real UDP sockets: a silent server never holds poll().
import socket
import time
import timesync
from fakes import Ticks, Log
from mp_test_timesync import Rtc, Net, real_time, secs, sleeper, until_done, packet, NOW

IP = "10.0.0.7"


def make(answer=None, table=None, **cfg):
    ticks = Ticks(1000)
    rtc = Rtc(ticks, secs(2013, 1, 1))
    net = Net(ticks, {IP: answer or real_time(ticks), "10.0.0.8": real_time(ticks)},
              table={"ntp.example": IP} if table is None else table)
    c = {"ntp_servers": ["ntp.example"]}
    c.update(cfg)
    ts = timesync.TimeSync(c, Log(), rtc=rtc, sock=net, ticks_ms=ticks, sleep_ms=sleeper(ticks))
    return ts, net, net, ticks, rtc


def until_due(ts, ticks, busy):
    """Advance to the next due query, poll once and see its exchange through."""
    for _ in range(100000):
        if ts._due.passed():
            break
        ticks.t += 60000
    ts.poll(busy=busy)
    until_done(ts, ticks, None, busy=busy)


def test_one_lookup_across_several_syncs():
    ts, ntp, dns, ticks, rtc = make()
    assert ts.boot()                     # two agreeing answers: synced
    for busy in (False, True, False, True, True, False):
        until_due(ts, ticks, busy)
    assert len(rtc.sets) == 7            # boot + six interval syncs
    assert dns.lookups == ["ntp.example"] and ts.lookups == 1
    assert all(h == IP for h in ntp.queries)


def test_failures_relook_the_name_up_only_when_no_viewer_plays():
    answers = [None] * 6 + [secs(2026, 11, 23)]
    ts, ntp, dns, ticks, rtc = make(answer=answers)
    ts.boot()                            # two timeouts: the address is kept for now
    assert dns.lookups == ["ntp.example"]
    assert ntp.queries == [IP, IP]
    for _ in range(3):                   # a viewer plays: the known address
        until_due(ts, ticks, busy=True)
    assert dns.lookups == ["ntp.example"]
    assert ntp.queries[2:] == [IP] * 3
    until_due(ts, ticks, busy=False)     # nobody watching: the name is looked up again
    assert dns.lookups == ["ntp.example"] * 2
    assert ntp.queries[-1] == IP


def test_a_failed_relookup_keeps_the_old_address():
    ts, ntp, dns, ticks, rtc = make(answer=[None, None, secs(2026, 11, 23)])
    ts.boot()
    dns.table = {}                       # DNS down now
    until_due(ts, ticks, busy=False)
    assert dns.lookups == ["ntp.example"] * 2
    assert ntp.queries[-1] == IP         # asked anyway
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
    assert len(dns.lookups) == n + 1 and ntp.queries[-1] == "10.0.0.8"


# ---- on the emulator's socket module (the unix port's UDP underneath): real time --------
def _server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for port in range(28400, 28500):
        try:
            s.bind(("127.0.0.1", port))
            return s, port
        except OSError:
            pass
    raise OSError("no free port")


def _real(port, **cfg):
    timesync._NTP_PORT = port            # the server here is not on port 123
    c = {"ntp_servers": ["127.0.0.1"], "timeout_ms": 300}
    c.update(cfg)
    rtc = Rtc(Ticks(0), NOW)
    return timesync.TimeSync(c, Log(), rtc=rtc, woke=True, slept_at=NOW - 60), rtc


def test_silent_server_on_real_sockets_each_poll_returns_at_once():
    srv, port = _server()
    try:
        ts, rtc = _real(port)
        ts._due.set(0)
        worst = polls = 0
        t0 = time.ticks_ms()
        while polls < 2 or ts._s is not None:
            a = time.ticks_us()
            ts.poll(busy=True)
            worst = max(worst, time.ticks_diff(time.ticks_us(), a))
            polls += 1
            time.sleep_ms(2)
            assert time.ticks_diff(time.ticks_ms(), t0) < 5000, "the exchange never ended"
        took = time.ticks_diff(time.ticks_ms(), t0)
        print("polls %d, longest %d us, exchange %d ms" % (polls, worst, took))
        assert 300 <= took < 1000 and "no answer in 300 ms" in ts.last_error
        assert worst < 20000, worst      # microseconds: nothing in poll() waits
        assert srv.recv(100)[0] == 0x23  # the request did reach the server
    finally:
        timesync._NTP_PORT = 123
        srv.close()


def test_answering_server_on_real_sockets_sets_the_rtc():
    srv, port = _server()
    try:
        ts, rtc = _real(port)
        ts._due.set(0)
        ts.poll()
        req, addr = srv.recvfrom(100)    # blocking: the request was sent by poll()
        srv.sendto(packet(req, unix=NOW + 7), addr)
        for _ in range(500):
            if ts._s is None:
                break
            time.sleep_ms(2)
            ts.poll()
        assert rtc.sets == [NOW + 7] and ts.last_error is None
    finally:
        timesync._NTP_PORT = 123
        srv.close()
