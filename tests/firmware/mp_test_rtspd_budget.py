# rtspd.budget: the share of the camera's WiFi link each viewer may hand lwIP.
import time
from rtspd.budget import Budget, Writer, SND_BUF, ACK_MS


def _wait_ms(ms):
    t = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t) < ms:
        pass


def test_a_viewer_alone_is_not_paced():
    b = Budget(600000)
    w = Writer()
    b.n = b.viewers = 1
    assert b.take(w, 150000) == 150000


def test_a_udp_viewer_alone_is_paced_at_the_link_rate():
    # no send buffer holds datagrams back: handed over unpaced, a frame's packets would fill
    # the radio's queue and the send would wait in the driver, the camera loop with it
    b = Budget(600000)
    w = Writer()
    b.n = b.viewers = 1
    assert b.take(w, 150000, True) < 150000
    sent = 0
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 100:
        k = b.take(w, 1404, True)
        if k:
            b.spent(w, k, time.ticks_ms(), True)
            sent += k
    assert 30000 <= sent <= 60000 + 3200, sent     # ~600 B/ms, plus the first bucket


def test_what_a_viewer_wrote_alone_is_no_debt_when_a_second_one_comes():
    # a viewer streamed alone for a while (megabytes), then a second viewer arrives: once
    # the lone viewer's send buffer can have drained, both get their share at once
    b = Budget(600000)
    alone, other = Writer(), Writer()
    b.n = b.viewers = 1
    for _ in range(40):
        k = b.take(alone, 150000)
        b.spent(alone, k, time.ticks_ms())
    b.n = b.viewers = 2
    _wait_ms(SND_BUF * 1000 // 600000 + ACK_MS + 5)
    assert b.take(alone, 150000) >= 800
    assert b.take(other, 150000) >= 800


def test_two_viewers_share_the_rate():
    b = Budget(600000)
    ws = [Writer(), Writer()]
    b.n = b.viewers = 2
    _wait_ms(SND_BUF * 1000 // 600000 + 2)
    sent = [0, 0]
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < 200:
        for i, w in enumerate(ws):
            k = b.take(w, 5000)
            if k:
                b.spent(w, k, time.ticks_ms())
                sent[i] += k
    # 600 kB/s for 0.2 s is 120 KB in all; each gets about half, never more than the link
    assert sum(sent) <= 120000 + 2 * 3200, sent
    assert min(sent) >= 30000, sent
