"""NTP and DNS beside a stream (issue 10 item 2), on the emulated camera's network stack
(--net-model: getaddrinfo blocks the whole camera until lwIP's DNS answers, 7 s without an
answer): the NTP server's name is looked up once, before streaming, and its address kept;
a sync while a viewer plays never looks a name up and never waits for its answer (the
request goes out on a non-blocking UDP socket, later loop passes look for the answer).
Lookups are counted from the emulator's lwIP trace."""
import time

from . import appkit
from .ntpkit import HostileNtp
from .test_app_adaptive import get_param

# Bounds a loop that waited for NTP fails: the frozen ntptime blocked the loop for its
# timeout (300 ms while a viewer played, 1 s otherwise). Issue 10's target is a 50 ms pass;
# the emulated loop on this shared 2-core machine has passes of 20-60 ms and frame gaps of
# 145-160 ms (frames every 100 ms) with no NTP work at all, so that is not asserted here;
# the exchange's own passes take 0-1 ms (tests/firmware/mp_test_clock_ntp.py times them).
# A blocking exchange makes a pass of at least 300 ms plus the pass's own work; a pass of
# 220 ms without one was seen with 8 workers and 3 CPU hogs on the 2 cores.
GAP_MS = 250
LOOP_MS = 300


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


def test_sync_while_streaming_never_stalls_the_loop(tmp_path):
    ntp = HostileNtp("silent")          # no answer ever comes
    try:
        changes = {"time": {"ntp_servers": ["localhost"]}}
        with appkit.app(tmp_path, changes, ntp_port=ntp.port, net_model=True,
                        net_trace=True) as (board, url):
            boot_queries = ntp.queries  # boot: looked up, asked twice (1 s each), not synced
            assert boot_queries >= 1
            get_param(url, "loop_max_ms")       # the longest pass counts from here
            # the retry (10 s after boot) comes while the viewer plays: a busy sync
            times = watch(url, lambda: ntp.queries > boot_queries)
            loop_max = get_param(url, "loop_max_ms")
            assert ntp.queries > boot_queries, "no sync while the viewer played"
            assert len(lookups(board, "localhost")) == 1, lookups(board, "localhost")
        gap = longest_gap_ms(times)
        print("frames %d, longest gap %.0f ms, longest loop pass %d ms"
              % (len(times), gap, loop_max))
        assert gap < GAP_MS, gap
        assert loop_max < LOOP_MS, loop_max
    finally:
        ntp.close()


def test_a_dns_that_never_answers_is_not_asked_again_while_streaming(tmp_path):
    changes = {"time": {"ntp_servers": ["ntp.example"]}}
    with appkit.app(tmp_path, changes, net_model=True, net_trace=True, dns="none") as (board, url):
        # boot blocked 7 s in the lookup; its retry is due 10 s later, while the viewer plays
        t0 = time.monotonic()
        get_param(url, "loop_max_ms")
        times = watch(url, lambda: time.monotonic() > t0 + 11)
        loop_max = get_param(url, "loop_max_ms")
        assert len(lookups(board, "ntp.example")) == 1, lookups(board, "ntp.example")
    gap = longest_gap_ms(times)
    print("frames %d over %.1f s, longest gap %.0f ms, longest loop pass %d ms"
          % (len(times), times[-1] - times[0], gap, loop_max))
    assert times[-1] - times[0] > 10
    assert gap < GAP_MS, gap
    assert loop_max < LOOP_MS, loop_max
