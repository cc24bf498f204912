# The RGB LED as a status display (table for users: docs/leds.md).
#
# Non-blocking: the main loop calls tick(now_ms) as often as it likes; the LED changes only
# when a step of the pattern ends, and tick allocates nothing. A pattern is a tuple of
# (colour, milliseconds) steps played in a loop. Errors are blink codes in red (count the
# blinks: 2 SD card, 3 configuration, 4 WiFi) so they read without telling colours apart;
# while an error is active the cycle is: the state's pattern for a few seconds, then each
# error's code once. Safe mode overrides everything.
import time

OFF = 0
RED = 1
GREEN = 2
BLUE = 4
YELLOW = RED | GREEN
CYAN = GREEN | BLUE
MAGENTA = RED | BLUE
WHITE = RED | GREEN | BLUE

# states
BOOTING = "booting"
CONNECTING = "connecting"
IDLE = "idle"
STREAMING = "streaming"
SLEEPING = "sleeping"
SAFE_MODE = "safe_mode"
# errors (several may be active at once)
ERR_SD = "sd"
ERR_CONFIG = "config"
ERR_WIFI = "wifi"
ERROR_ORDER = (ERR_SD, ERR_CONFIG, ERR_WIFI)


def _code(n):
    """n short red blinks, then a pause: the error's number."""
    return ((RED, 200), (OFF, 300)) * (n - 1) + ((RED, 200), (OFF, 1300))


PATTERNS = {
    BOOTING: ((WHITE, 1000),),                       # steady white
    CONNECTING: ((BLUE, 150), (OFF, 150)),           # fast blue blink
    IDLE: ((GREEN, 100), (OFF, 1900)),               # short green flash every 2 s
    STREAMING: ((GREEN, 1000),),                     # steady green
    SLEEPING: ((CYAN, 500), (OFF, 500)),             # slow cyan blink, then dark
    SAFE_MODE: ((RED, 250), (BLUE, 250)),            # red/blue alternating
    ERR_SD: _code(2),
    ERR_CONFIG: _code(3),
    ERR_WIFI: _code(4),
}
DARK = ((OFF, 1000),)
STATE_SHOWN_MS = 3000          # with errors: how long the state shows between error codes


class StatusLed:
    """leds: (red, green, blue) objects with on()/off(), default machine.LED(...).
    mode: "all", "errors" (dark unless an error or safe mode) or "off" (config led.mode)."""

    def __init__(self, leds=None, mode="all"):
        if leds is None:
            import machine
            leds = (machine.LED("LED_RED"), machine.LED("LED_GREEN"), machine.LED("LED_BLUE"))
        self._leds = leds
        self.mode = mode
        self.state = BOOTING
        self.errors = []
        self._shown = -1               # colour on the LED now (-1: unknown, force a write)
        self._start = time.ticks_ms()
        self._rebuild()

    def set_mode(self, mode):
        self.mode = mode
        self._rebuild()

    def set_state(self, state):
        if state != self.state:
            self.state = state
            self._rebuild()

    def set_error(self, err, active=True):
        if active and err not in self.errors:
            self.errors.append(err)
        elif not active and err in self.errors:
            self.errors.remove(err)
        else:
            return
        self.errors.sort(key=ERROR_ORDER.index)
        self._rebuild()

    def _rebuild(self):
        # runs only on a change: the tuple built here is what tick() walks without allocating
        self._steps = self._compose()
        self._period = _period(self._steps)
        self._start = time.ticks_ms()

    def _compose(self):
        if self.mode == "off":
            return DARK
        if self.state == SAFE_MODE:
            return PATTERNS[SAFE_MODE]
        base = DARK if self.mode == "errors" else PATTERNS.get(self.state, DARK)
        if not self.errors:
            return base
        steps = ()
        if base is not DARK:
            steps = base * max(1, STATE_SHOWN_MS // _period(base)) + ((OFF, 500),)
        for e in self.errors:
            steps += PATTERNS[e]
        return steps

    def colour_at(self, now_ms):
        """The colour the pattern shows at now_ms (what tick() puts on the LED)."""
        t = time.ticks_diff(now_ms, self._start) % self._period
        for colour, ms in self._steps:
            if t < ms:
                return colour
            t -= ms
        return OFF

    def tick(self, now_ms=None):
        c = self.colour_at(time.ticks_ms() if now_ms is None else now_ms)
        if c != self._shown:
            self._show(c)

    def _show(self, c):
        self._shown = c
        r, g, b = self._leds
        r.on() if c & RED else r.off()
        g.on() if c & GREEN else g.off()
        b.on() if c & BLUE else b.off()

    def off(self):
        """All dark now (before deep sleep); tick() lights it again."""
        self._show(OFF)


def _period(steps):
    return sum(s[1] for s in steps) or 1
