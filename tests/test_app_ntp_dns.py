"""NTP and DNS beside a stream (issue 10 item 2), on the emulated camera's network stack
(--net-model: getaddrinfo blocks the whole camera until lwIP's DNS answers, 7 s without an
answer): the NTP server's name is looked up once, before streaming, and its address kept;
a sync while a viewer plays never looks a name up and blocks the loop for at most
time.busy_timeout_ms (300 ms). Lookups are counted from the emulator's lwIP trace."""
import time

from . import appkit
from .ntpkit import HostileNtp

BUSY_MS = 300               # timesync DEFAULTS busy_timeout_ms: the longest a sync may block
FRAME_MS = 250              # a frame interval and scheduling slack on a shared machine


def lookups(board, name):
    with board.cond:
        return [line for line in board.console if "lwip: DNS: " in line and name in line]


def watch(url, until, limit_s=25):
    """Play the stream until until() is true (and 1.5 s more); returns the frame times."""
    times = []
    deadline = time.monotonic() + limit_s
    end = None
    with appkit.open_stream(url) as c:
        for _ in c.decode(video=0):
            now = time.monotonic()
            times.append(now)
            if end is None and until():
                end = now + 1.5
            if (end is not None and now > end) or now > deadline:
                break
    return times


def longest_gap_ms(times):
    return max(b - a for a, b in zip(times, times[1:])) * 1000


def test_sync_while_streaming_uses_the_remembered_address_and_blocks_300_ms_at_most(tmp_path):
    ntp = HostileNtp("silent")          # every query waits out its timeout
    try:
        changes = {"time": {"ntp_servers": ["localhost"]}}
        with appkit.app(tmp_path, changes, ntp_port=ntp.port, net_model=True,
                        net_trace=True) as (board, url):
            boot_queries = ntp.queries  # boot: looked up, asked twice (1 s each), not synced
            assert boot_queries >= 1
            # the retry (10 s after boot) comes while the viewer plays: a busy sync
            times = watch(url, lambda: ntp.queries > boot_queries)
            assert ntp.queries > boot_queries, "no sync while the viewer played"
            assert len(lookups(board, "localhost")) == 1, lookups(board, "localhost")
        gap = longest_gap_ms(times)
        print("frames %d, longest gap %.0f ms" % (len(times), gap))
        assert gap < BUSY_MS + FRAME_MS, gap
    finally:
        ntp.close()


def test_a_dns_that_never_answers_is_not_asked_again_while_streaming(tmp_path):
    changes = {"time": {"ntp_servers": ["ntp.example"]}}
    with appkit.app(tmp_path, changes, net_model=True, net_trace=True, dns="none") as (board, url):
        # boot blocked 7 s in the lookup; its retry is due 10 s later, while the viewer plays
        t0 = time.monotonic()
        times = watch(url, lambda: time.monotonic() > t0 + 11)
        assert len(lookups(board, "ntp.example")) == 1, lookups(board, "ntp.example")
    gap = longest_gap_ms(times)
    print("frames %d over %.1f s, longest gap %.0f ms" % (len(times), times[-1] - times[0], gap))
    assert times[-1] - times[0] > 10
    assert gap < BUSY_MS + FRAME_MS, gap
