# LED status codes: every state and error looks different, errors show between the state's
# pattern, modes dim what the user asked, and tick() never blocks nor allocates.
import micropython
from fakes import FakeLed
import status_led as S


def make(mode="all"):
    leds = (FakeLed(), FakeLed(), FakeLed())
    return S.StatusLed(leds, mode), leds


def trace(led, leds, ms, step=10):
    """The colours shown over ms milliseconds, sampled every step ms from the pattern start."""
    out = []
    t0 = led._start
    for t in range(0, ms, step):
        led.tick(t0 + t)
        r, g, b = leds
        out.append(r.value | g.value << 1 | b.value << 2)
    return tuple(out)


def test_every_state_and_error_looks_different():
    seen = {}
    for state in (S.BOOTING, S.CONNECTING, S.IDLE, S.STREAMING, S.SLEEPING, S.SAFE_MODE):
        led, leds = make()
        led.set_state(state)
        seen[state] = trace(led, leds, 6000)
    for err in (S.ERR_SD, S.ERR_CONFIG, S.ERR_WIFI):
        led, leds = make("errors")              # the error code alone
        led.set_state(S.STREAMING)
        led.set_error(err)
        seen[err] = trace(led, leds, 6000)
    names = list(seen)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert seen[names[i]] != seen[names[j]], (names[i], names[j])


def blinks(samples, colour):
    n, prev = 0, None
    for c in samples:
        if c == colour and prev != colour:
            n += 1
        prev = c
    return n


def test_error_codes_count_red_blinks():
    for err, n in ((S.ERR_SD, 2), (S.ERR_CONFIG, 3), (S.ERR_WIFI, 4)):
        led, leds = make("errors")
        led.set_error(err)
        assert blinks(trace(led, leds, led._period), S.RED) == n, err


def test_error_shows_between_the_state_pattern():
    led, leds = make()
    led.set_state(S.STREAMING)
    led.set_error(S.ERR_SD)
    cycle = trace(led, leds, led._period)
    assert S.GREEN in cycle and S.RED in cycle          # still says "streaming", and the error
    assert blinks(cycle, S.RED) == 2
    led.set_error(S.ERR_SD, False)
    assert S.RED not in trace(led, leds, 3000)


def test_two_errors_show_both_codes():
    led, leds = make("errors")
    led.set_error(S.ERR_WIFI)
    led.set_error(S.ERR_SD)
    assert blinks(trace(led, leds, led._period), S.RED) == 2 + 4


def test_safe_mode_overrides_everything():
    led, leds = make()
    led.set_error(S.ERR_CONFIG)
    led.set_state(S.SAFE_MODE)
    cycle = trace(led, leds, 2000)
    assert S.RED in cycle and S.BLUE in cycle and S.GREEN not in cycle


def test_modes():
    led, leds = make("off")
    led.set_error(S.ERR_SD)
    assert set(trace(led, leds, 5000)) == {S.OFF}
    led, leds = make("errors")
    led.set_state(S.STREAMING)
    assert set(trace(led, leds, 5000)) == {S.OFF}
    led.set_error(S.ERR_WIFI)
    assert S.RED in trace(led, leds, led._period)


def test_leds_are_written_only_on_change():
    led, leds = make()
    led.set_state(S.STREAMING)          # steady green
    trace(led, leds, 5000, step=1)
    assert sum(x.changes for x in leds) <= 2


def test_tick_does_not_allocate():
    led, leds = make()
    led.set_state(S.IDLE)
    led.set_error(S.ERR_WIFI)
    t0 = led._start
    led.tick(t0)
    micropython.heap_lock()
    try:
        for t in range(0, 20000, 7):
            led.tick(t0 + t)
    finally:
        micropython.heap_unlock()
