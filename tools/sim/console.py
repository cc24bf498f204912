"""What `python -m tools.sim` prints: the board's events and the app's console, with the LED
summarised as a pattern printed once per change instead of every blink.

The board reports each LED switching on or off. A person wants to know what the LED *shows*
("green flash every 2 s"), so LedPatterns turns the switchings into steps (colour, duration),
finds the shortest cycle that repeated, describes it the way the README's LED table does and
names its meaning from that table. `--trace` prints every event instead.
"""
import sys
import threading
import time

MERGE_S = 0.03          # LED switchings this close together are one colour change
STEADY_S = 2.5          # no change for this long (and longer than any step): steady
                        # (longer than the 1.9 s dark part of the "ready" flash)
MAX_CYCLE = 32          # longest cycle looked for, in steps
REPEAT_S = 2.5          # a cycle counts once it has repeated for this long
BANNER_FALLBACK_S = 8   # the banner comes this long after the URL if the LED never says ready

# What each pattern means: the README's table "What the LED says" (lib/status_led.py draws them).
MEANINGS = {
    "steady white": "starting up",
    "blue blink, 3 per second": "connecting to WiFi",
    "green flash every 2 s": "ready, waiting for a viewer",
    "steady green": "streaming",
    "cyan blink, 1 per second": "going to deep sleep",
    "red/blue alternating": "safe mode",
    "2 red blinks, pause": "SD card problem",
    "3 red blinks, pause": "config.json mistake",
    "4 red blinks, pause": "WiFi failed",
    "dark": "dark",
}
COLOURS = {frozenset(): "off", frozenset({"red"}): "red", frozenset({"green"}): "green",
           frozenset({"blue"}): "blue", frozenset({"red", "green"}): "yellow",
           frozenset({"green", "blue"}): "cyan", frozenset({"red", "blue"}): "magenta",
           frozenset({"red", "green", "blue"}): "white"}


ORDER = ["red", "yellow", "green", "cyan", "blue", "magenta", "white"]
# the state part of a pattern shown with error codes after it: (kind, colour) -> meaning
STATE_MEANINGS = {("steady", "white"): "starting up", ("blink", "blue"): "connecting to WiFi",
                  ("flash", "green"): "ready, waiting for a viewer", ("steady", "green"): "streaming",
                  ("blink", "cyan"): "going to deep sleep"}


def colour_name(on):
    return COLOURS.get(frozenset(on), "+".join(sorted(on)))


def _rounded(ms):
    return int(50 * round(ms / 50.0)) or 50


def _same(a, b):
    """Two cycles of steps agree: same colours, durations within 25% (or 80 ms)."""
    return len(a) == len(b) and all(
        ca == cb and abs(da - db) <= max(80, 0.25 * max(da, db)) for (ca, da), (cb, db) in zip(a, b))


def canonical(cycle):
    """The cycle started at a fixed point (the rotation that sorts first), so that a cycle seen
    from another phase compares equal."""
    rots = [cycle[i:] + cycle[:i] for i in range(len(cycle))]
    return min(rots, key=lambda r: [(c, -d) for c, d in r])


def _blink_phrase(colour, on_ms, period_ms):
    if on_ms <= 0.25 * period_ms and period_ms >= 1000:
        secs = period_ms / 1000.0
        return "%s flash every %s s" % (colour, ("%d" % secs) if secs == int(secs) else "%.1f" % secs)
    per_s = 1000.0 / period_ms
    if per_s >= 1:
        return "%s blink, %d per second" % (colour, round(per_s))
    return "%s blink every %.1f s" % (colour, period_ms / 1000.0)


def _describe_simple(cycle):
    on = [(c, d) for c, d in cycle if c != "off"]
    colours = sorted({c for c, _ in on})
    period = sum(d for _, d in cycle)
    if not on:
        return "dark"
    if len(on) == len(cycle) and len(colours) == 2:
        return "%s/%s alternating" % tuple(sorted(colours, key=ORDER.index))
    if len(colours) == 1 and len(on) == 1:
        return _blink_phrase(colours[0], on[0][1], period)
    if len(colours) == 1:
        return "%d %s blinks, pause" % (len(on), colours[0])
    return ", ".join("%s %d ms" % s for s in cycle)


def _split_codes(cycle):
    """A state pattern with error codes after it (lib/status_led.py: the state for a few
    seconds, then each error's red blink code): returns (state steps, [blink counts])."""
    codes, state, run = [], [], 0
    for c, d in cycle:
        if c == "red" and d <= 300:
            run += 1
        elif c == "off" and run and d >= 1000:
            codes.append(run)
            run = 0
        elif c == "off" and run:
            pass
        else:
            state.append((c, d))
    return state, codes


def _state_kind(state):
    """'steady', 'flash' (short on, long off) or 'blink', and the colour, of a state part."""
    on = [(c, d) for c, d in state if c != "off"]
    colours = {c for c, _ in on}
    if len(colours) != 1:
        return None, "/".join(sorted(colours, key=ORDER.index)) or "dark"
    lit = sum(d for _, d in on)
    total = sum(d for _, d in state)
    if lit >= 0.8 * total:
        return "steady", on[0][0]
    return ("flash" if lit <= 0.25 * total else "blink"), on[0][0]


def describe(cycle):
    """(words for the pattern, its meaning from the README table or None)."""
    text = _describe_simple(cycle)
    if text in MEANINGS:
        return text, MEANINGS[text]
    state, codes = _split_codes(cycle)
    if codes and state:
        kind, colour = _state_kind(state)
        shown = ("steady %s" % colour if kind == "steady" else "%s %s" % (colour, kind)) if kind else colour
        parts = [STATE_MEANINGS.get((kind, colour), shown)]
        parts += [MEANINGS.get("%d red blinks, pause" % n, "%d red blinks" % n) for n in codes]
        words = "%s, then %s" % (shown, " and ".join("%d red blinks" % n for n in codes))
        return words, " + ".join(parts)
    return text, None


class LedPatterns:
    """Feed it LED switchings (on_led) and the time (tick); it calls say(text) when the pattern
    shown changes."""

    def __init__(self, say):
        self.say = say
        self.on = set()
        self.steps = []               # finished steps: (colour, ms)
        self.since = None             # when the current colour started
        self.colour = "off"
        self.shown = None             # canonical cycle last reported
        self.cycle = None             # the cycle shown, as seen (None: steady or none yet)
        self.last_meaning = None

    def on_led(self, name, state, now):
        name = name.lower()
        (self.on.add if state else self.on.discard)(name)
        colour = colour_name(self.on)
        if self.since is not None and now - self.since < MERGE_S and self.steps:
            # part of one colour change (red off, blue on): the short step in between is noise
            self.since = now if colour == self.colour else self.since
            self.colour = colour
            return
        if self.since is not None and colour != self.colour:
            self.steps.append((self.colour, _rounded((now - self.since) * 1000)))
            del self.steps[:-4 * MAX_CYCLE]
        if colour != self.colour or self.since is None:
            self.since = now
        self.colour = colour
        self._find_cycle()

    def tick(self, now):
        if self.since is None:
            return
        held = now - self.since
        longest = max([d for _, d in self.steps[-MAX_CYCLE:]] or [0]) / 1000.0
        if held >= STEADY_S and held > 2 * longest:
            self.steps = []
            self._report([(self.colour, 0)], steady=True)

    def _find_cycle(self):
        """The shortest cycle that repeated at least twice over REPEAT_S or more: shorter
        repeats are often a part of a longer pattern (the blinks of an error code)."""
        s = self.steps
        if self.cycle and self._fits(self.cycle):
            return                                 # still the pattern shown (or a part of it)
        for n in range(1, min(MAX_CYCLE, len(s) // 2) + 1):
            m = 0                                  # trailing steps that follow the period
            while m + n < len(s) and _same([s[-1 - m]], [s[-1 - m - n]]):
                m += 1
            if m >= n and sum(d for _, d in s[-(m + n):]) >= REPEAT_S * 1000:
                self._report(s[-n:])
                return

    def _fits(self, cycle):
        n = len(cycle)
        tail = self.steps[-2 * n:]
        for r in range(n):
            rot = cycle[r:] + cycle[:r]
            if _same(tail, (rot * 3)[-len(tail):]):
                return True
        return False

    def _report(self, cycle, steady=False):
        self.cycle = None if steady else list(cycle)
        if steady:
            words = "dark" if cycle[0][0] == "off" else "steady " + cycle[0][0]
            key, meaning = [("steady", cycle[0][0])], MEANINGS.get(words)
        else:
            key = canonical(cycle)
            if self.shown and _same(key, self.shown):
                return              # the same pattern, durations measured a little differently
            words, meaning = describe(key)
        if key == self.shown:
            return
        self.shown = key
        self.last_meaning = meaning
        self.say("%s (%s)" % (meaning, words) if meaning and meaning != words else words)


def say_line(line):
    # one write per line: print() writes the text and the newline separately, and a Ctrl-C
    # between the two glued "board: stopped" to a half-printed banner line
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Console:
    """Prints board events and console lines as they come. Events of kind 'led' go through
    LedPatterns unless trace is on. ready_banner(urls) is printed once the LED first says the
    camera is ready or streaming."""

    def __init__(self, out=None, trace=False):
        self.out = out or say_line
        self.trace = trace
        self.lock = threading.Lock()
        self.leds = LedPatterns(self._led_line)
        self.urls = []
        self.url_at = None
        self.banner_shown = False

    def __call__(self, kind, text):
        """Board printer: kind None is a line the firmware printed."""
        with self.lock:
            if kind == "led" and not self.trace:
                name, _, state = text.partition(" ")
                self.leds.on_led(name, state == "on", time.monotonic())
            elif kind is None:
                self.out(text)
            else:
                self.out("board: %-8s %s" % (kind, text))

    def tick(self):
        with self.lock:
            now = time.monotonic()
            self.leds.tick(now)
            if self.url_at and now - self.url_at > BANNER_FALLBACK_S:
                self._maybe_banner(force=True)      # led.mode "errors"/"off": the LED stays dark

    def add_url(self, url):
        with self.lock:
            if url not in self.urls:
                self.urls.append(url)
                self.out(url)
                self.url_at = self.url_at or time.monotonic()
            self._maybe_banner()

    def _led_line(self, text):
        self.out("board: %-8s %s" % ("led", text))
        self._maybe_banner()

    def _maybe_banner(self, force=False):
        ready = force or self.leds.last_meaning in ("ready, waiting for a viewer", "streaming")
        if self.banner_shown or not ready or not self.urls:
            return
        self.banner_shown = True
        width = max(len(u) for u in self.urls) + 4
        self.out("=" * width)
        self.out("  camera ready. Watch it with a player (VLC, ffplay) or a browser at:")
        for u in self.urls:
            self.out("  " + u)
        self.out("=" * width)
