# Deep-sleep policy for battery cameras.
#
# The camera sleeps when nobody watches:
#   - grace_period_s after the last viewer left (the RTSP server's event, via viewers(n));
#   - awake_window_s after a wake from deep sleep if no viewer came;
#   - boot_window_s after a cold boot if no viewer came (default: awake_window_s; 0 = stay
#     up until a first viewer has come and gone).
# sleep() runs the caller's cleanups in the order they were added (leave WiFi, close files,
# flush the log last so nothing is lost), writes the wake marker and calls
# machine.deepsleep(sleep_duration_s * 1000). Deep sleep cuts the 3.3 V rail (camera, WiFi, SD);
# the RTC keeps running; waking is a full reset (boot.py and main.py run again).
#
# Waking: after sleep_duration_s (whole seconds; 0 = no timer) or on a rising edge of pin
# P11 (e.g. a PIR sensor's output), whichever comes first. The P11 wake-up is armed by the
# firmware's deepsleep() itself: nothing to configure here, no other pin can wake the
# board, and the app cannot disarm it (wake_on_p11 only documents the wiring; leave P11
# pulled low when nothing is connected, or noise may wake the camera).
#
# Why a marker: machine.reset_cause() cannot say "woke from deep sleep". It returns 4
# (DEEPSLEEP_RESET, a number the firmware does not even export) whenever the SRC user-reset
# flag is set, and that flag stays set until power is removed: after a wake, and after every
# later watchdog or soft reset too. So the reset cause is not read at all. The marker
# (written just before sleeping, read and removed at the next boot) holds the RTC time at
# sleep and the planned duration, and a start is a wake only when the RTC agrees: not
# earlier than the sleep (the RTC restarts from 2013 after a power loss) and, with a timer,
# not later than the planned wake plus WAKE_SLACK_S (a marker left by a sleep that ended
# long ago, or never happened, is not this start's wake). A P11 wake may come any time in
# between. marker_found says the previous run ended in a planned sleep (crashguard: not a
# hang) whether or not this start is that wake.
# Known limit: a sleep that hangs inside machine.deepsleep() until the watchdog resets the
# board looks like an early P11 wake (RTC consistent, marker present).
# deep_sleep=false turns all of this off (mains-powered cameras).
import time

# Keys of the "power" section (lib/appconfig.py validates all but boot_window_s).
DEFAULTS = {
    "deep_sleep": False,
    "grace_period_s": 120,
    "awake_window_s": 180,
    "boot_window_s": None,      # None: same as awake_window_s
    "sleep_duration_s": 600,
}
MARKER = "wake.marker"
WAKE_SLACK_S = 120      # wake timer to this check: boot.py's SD check, imports, start-up


class Power:
    """cfg: the "power" section. marker_path: where the wake marker lives (main.py picks a
    drive that is there at every boot; relative = the app's current directory)."""

    def __init__(self, cfg=None, log=None, machine=None, marker_path=MARKER, ticks_ms=None,
                 rtc_now=None, os_mod=None):
        cfg = cfg or {}
        self._log = log
        self._machine = machine if machine is not None else __import__("machine")
        self._os = os_mod if os_mod is not None else __import__("os")
        self._ticks = ticks_ms or time.ticks_ms
        self._rtc_now = rtc_now or _rtc_now
        self.marker = marker_path
        self.enabled = bool(cfg.get("deep_sleep", DEFAULTS["deep_sleep"]))
        self.grace_ms = _secs(cfg, "grace_period_s", 1, 86400, log) * 1000
        self.awake_ms = _secs(cfg, "awake_window_s", 1, 86400, log) * 1000
        if cfg.get("boot_window_s") is None:
            self.boot_ms = self.awake_ms
        else:
            self.boot_ms = _secs(cfg, "boot_window_s", 0, 86400, log) * 1000
        self.sleep_s = _secs(cfg, "sleep_duration_s", 0, 86400, log)
        self._cleanups = []
        self.viewers_now = 0
        self.marker_found = False   # a marker was there: the last run ended in a planned sleep
        self.woke, self.slept_at = self._read_marker()
        window = self.awake_ms if self.woke else self.boot_ms
        # deadline None = no sleep planned (someone is watching, or waiting for a first one)
        self._deadline = time.ticks_add(self._ticks(), window) if window else None
        if self.woke:
            self._say("info", "power: woke from deep sleep")

    # ---------------------------------------------------------------- wake marker

    def _read_marker(self):
        try:
            with open(self.marker) as f:
                text = f.read(100)
        except OSError:
            return False, None
        self.marker_found = True
        try:
            self._os.remove(self.marker)
        except OSError as e:
            self._say("warning", "power: wake marker not removed: %s", e)
        fields = {}
        for part in text.split():
            k, _, v = part.partition("=")
            try:
                fields[k] = int(v)
            except ValueError:
                pass
        slept_at = fields.get("slept_at")
        why = self._not_a_wake(slept_at, fields.get("sleep_ms", 0))
        if why:
            self._say("info", "power: not a wake from deep sleep (%s)", why)
            return False, None
        return True, slept_at

    def _not_a_wake(self, slept_at, sleep_ms):
        """Why the RTC says this start is not the wake the marker planned ("" if it is)."""
        if slept_at is None:
            return "damaged wake marker"
        try:
            now = int(self._rtc_now())
        except Exception as e:
            return "RTC unreadable: %r" % (e,)
        if now < slept_at:
            return "the RTC is earlier than the sleep: power was lost"
        if sleep_ms > 0 and now - slept_at > sleep_ms // 1000 + WAKE_SLACK_S:
            return "the planned wake was %d s ago" % (now - slept_at - sleep_ms // 1000)
        return ""

    def _write_marker(self, ms):
        try:
            with open(self.marker, "w") as f:
                f.write("slept_at=%d sleep_ms=%d\n" % (int(self._rtc_now()), ms))
            sync = getattr(self._os, "sync", None)
            if sync:
                sync()
            return True
        except Exception as e:
            print("power: wake marker not written:", e)
            return False

    # ---------------------------------------------------------------- policy

    def viewers(self, n):
        """How many viewers are playing now (call on every change)."""
        was = self.viewers_now
        self.viewers_now = n
        if n > 0:
            self._deadline = None
        elif was > 0:
            self._deadline = time.ticks_add(self._ticks(), self.grace_ms)
            if self.enabled:
                self._say("info", "power: last viewer left; sleeping in %d s unless one comes",
                          self.grace_ms // 1000)

    def keep_awake(self, ms=None):
        """Something is going on (a client is setting up): no sleep for ms (default grace)."""
        if self.viewers_now > 0:
            return
        t = time.ticks_add(self._ticks(), self.grace_ms if ms is None else ms)
        if self._deadline is None or time.ticks_diff(t, self._deadline) > 0:
            self._deadline = t

    def remaining_ms(self):
        """ms until sleep is due, or None when none is planned."""
        if not self.enabled or self._deadline is None:
            return None
        return max(0, time.ticks_diff(self._deadline, self._ticks()))

    def due(self):
        """Is it time to sleep? Cheap: call every loop."""
        return (self.enabled and self._deadline is not None
                and time.ticks_diff(self._ticks(), self._deadline) >= 0)

    # ---------------------------------------------------------------- sleeping

    def add_cleanup(self, fn, name=None):
        """fn() runs before sleeping, in the order added. Add the log flush last."""
        self._cleanups.append((name or getattr(fn, "__name__", "cleanup"), fn))

    def sleep(self):
        """Clean up, write the marker, deep-sleep. Returns only if the sleep failed."""
        ms = self.sleep_s * 1000
        self._say("info", "power: deep sleep for %s", ("%d s" % self.sleep_s) if ms else
                  "ever (wake on P11 only)")
        for name, fn in self._cleanups:
            try:
                fn()
            except Exception as e:      # one failed cleanup must not keep the others from running
                print("power: cleanup %s failed: %r" % (name, e))
        self._write_marker(ms)
        try:
            self._machine.deepsleep(ms)
        except Exception as e:
            self._say("error", "power: deep sleep failed: %r", e)
        # still here: the sleep did not happen (or this is a fake machine); undo the marker
        try:
            self._os.remove(self.marker)
        except OSError:
            pass
        self._deadline = time.ticks_add(self._ticks(), self.grace_ms)
        return False

    def _say(self, level, msg, *args):
        if self._log:
            getattr(self._log, level)(msg, *args)


def _rtc_now():
    return int(time.time())       # whole seconds: an epoch time in a float is only exact to 128 s


def _secs(cfg, key, lo, hi, log):
    v = cfg.get(key, DEFAULTS[key])
    if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
        return v
    if log:
        log.error("power: bad %s %r, using %r", key, v, DEFAULTS[key])
    return DEFAULTS[key]
