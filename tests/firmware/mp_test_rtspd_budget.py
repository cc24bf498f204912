# rtspd.budget: the share of the camera's WiFi link each viewer may hand lwIP. The budget's
# clock is a stepped one here, so the shares do not depend on how busy the PC is.
import time
import rtspd.budget as bm
from rtspd.budget import Budget, Writer, SND_BUF, ACK_MS


class Clock:
    """time's ticks functions over a millisecond counter the test steps."""

    def __init__(self):
        self.ms = 1000

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)


def _with_clock(fn):
    def run():
        real = bm.time
        bm.time = Clock()
        try:
            fn(bm.time)
        finally:
            bm.time = real
    return run


def _stream(b, ws, want, ms, clock, paced=False):
    """Each writer writes what take() allows, every millisecond for ms; bytes per writer."""
    sent = [0] * len(ws)
    for _ in range(ms):
        clock.ms += 1
        for i, w in enumerate(ws):
            k = b.take(w, want, paced)
            if k:
                b.spent(w, k, clock.ms, paced)
                sent[i] += k
    return sent


def test_a_viewer_alone_is_not_paced():
    b = Budget(600000)
    w = Writer()
    b.n = b.viewers = 1
    assert b.take(w, 150000) == 150000


@_with_clock
def test_a_udp_viewer_alone_is_paced_at_the_link_rate(clock):
    # no send buffer holds datagrams back: handed over unpaced, a frame's packets would fill
    # the radio's queue and the send would wait in the driver, the camera loop with it
    b = Budget(600000)
    w = Writer()
    b.n = b.viewers = 1
    assert b.take(w, 150000, True) < 150000
    sent = _stream(b, [w], 1404, 100, clock, True)[0]
    assert 60000 - 1404 <= sent <= 60000 + 3200, sent   # 600 B/ms, plus the first bucket


@_with_clock
def test_what_a_viewer_wrote_alone_is_no_debt_when_a_second_one_comes(clock):
    # a viewer streamed alone for a while (megabytes), then a second viewer arrives: once
    # the lone viewer's send buffer can have drained, both get their share at once
    b = Budget(600000)
    alone, other = Writer(), Writer()
    b.n = b.viewers = 1
    for _ in range(40):
        k = b.take(alone, 150000)
        b.spent(alone, k, clock.ms)
    b.n = b.viewers = 2
    assert b.take(other, 150000) == 0       # its send buffer may still be in lwIP
    clock.ms += SND_BUF * 1000 // 600000 + ACK_MS + 5
    assert b.take(alone, 150000) >= 800
    assert b.take(other, 150000) >= 800


@_with_clock
def test_two_viewers_share_the_rate(clock):
    b = Budget(600000)
    ws = [Writer(), Writer()]
    b.n = b.viewers = 2
    clock.ms += SND_BUF * 1000 // 600000 + 2
    sent = _stream(b, ws, 5000, 200, clock)
    # 600 kB/s for 0.2 s is 120 KB in all; each gets half, never more than the link
    assert sum(sent) <= 120000 + 2 * 3200, sent
    assert min(sent) >= 60000 - 1600, sent


@_with_clock
def test_a_write_that_waited_halves_the_rate_and_it_creeps_back(clock):
    # a write that took >= SLOW_MS sat in modlwip's ERR_MEM retry: the link is slower than
    # assumed, so the shares shrink; writes that return at once bring the rate back up
    b = Budget(600000)
    w = Writer()
    b.n = b.viewers = 2
    t0 = clock.ms
    clock.ms += bm.SLOW_MS
    b.spent(w, 800, t0)
    assert b.rate == 300000 and b.blocked == 1
    for _ in range(200):
        b.spent(w, 0, clock.ms)
    assert b.rate > 590000, b.rate
