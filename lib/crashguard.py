# Crash safety: crash reports, restart with back-off, safe mode, hardware watchdog.
#
# An unhandled exception in the camera loop is written with its traceback to crash.txt on
# the active drive (the previous report is kept as crash.1.txt), then the camera resets
# itself after a back-off that doubles with every crash in a row. After
# recovery.safe_mode_after crashes in a row it starts in safe mode instead: no streaming work
# that could be the cause, a distinct LED pattern, the reports kept; after
# recovery.safe_mode_retry_min minutes, or when power-cycled, it tries once more. The count
# lives in a small file on the internal flash, so it survives a bad card; it is written only
# when it changes (flash wears out).
#
# Hangs: machine.reset_cause() cannot tell a watchdog reset once the board has been in deep
# sleep (it reads 4, DEEPSLEEP_RESET, after the wake and after every later reset, until
# power is removed). So the state file also says "running": set when the app starts (one
# flash write, only when it changes) and cleared only when the app is stopped on purpose
# (Ctrl-C, the IDE's stop). Every other end of a run is announced before it happens: our own
# resets (crash back-off, safe-mode retry) set expect_reset, a deep sleep leaves its wake
# marker (power.py; begin(slept=True)). A start that finds "running" set with neither was
# not planned. Then the reset cause decides what can be told:
#   PWRON_RESET (1)   the power was removed (that also clears the sticky flag): unplugged,
#                     a flat battery. Not a crash.
#   anything else     a hang ended by the watchdog (3, or 4 after a deep sleep), or a reset
#                     from outside that did not stop the app first (the reset pin, or a soft
#                     reset the firmware reports as 5). Counted as a hang: the worst case,
#                     since a watchdog reset cannot be told from the others after a sleep.
# Known limit: a hang inside machine.deepsleep() (after the marker was written) is not counted.
import gc
import io
import os
import sys
import time
import json
import storage
import applog
import timeutil

STATE_FILE = ".crashstate.json"
REPORT = "crash.txt"
PWRON_RESET = 1                # machine.PWRON_RESET: the power was removed
WDT_RESET = 3                  # machine.WDT_RESET (only until the board first slept)


class Watchdog:
    """machine.WDT as configured (watchdog.enabled / timeout_s). It cannot be stopped once
    started and survives a soft reset: keep it off while developing from the IDE."""

    def __init__(self, cfg, factory=None):
        w = cfg["watchdog"]
        self.enabled = w["enabled"]
        self.timeout_ms = w["timeout_s"] * 1000
        self._factory = factory
        self._wdt = None

    def start(self):
        if self.enabled and self._wdt is None:
            if self._factory is None:
                import machine
                self._factory = machine.WDT
            self._wdt = self._factory(timeout=self.timeout_ms)

    def feed(self):
        w = self._wdt
        if w is not None:
            w.feed()

    def sleep_ms(self, ms, led=None):
        """Sleep without starving the watchdog (and keep the LED pattern going)."""
        end = time.ticks_add(time.ticks_ms(), ms)
        while True:
            self.feed()
            now = time.ticks_ms()
            if led is not None:
                led.tick(now)
            left = time.ticks_diff(end, now)
            if left <= 0:
                return
            time.sleep_ms(min(left, 50))


class CrashGuard:
    """cfg: the validated config; flash: the flash drive path (from sdcheck); store: a
    storage.Storage for the reports; machine_mod: machine (or a fake with reset_cause(),
    reset()); wdt: a Watchdog."""

    def __init__(self, cfg, flash, store=None, log=None, machine_mod=None, wdt=None):
        self.cfg = cfg["recovery"]
        self.store = store
        self.log = log
        self.wdt = wdt or Watchdog(cfg)
        if machine_mod is None:
            import machine as machine_mod
        self.machine = machine_mod
        base = flash or (store.root if store else None)
        self._state_path = storage.join(base, STATE_FILE) if base else None
        self.count = 0
        self._expect_reset = False
        self._running = False          # the last run started and was not stopped on purpose
        self.hang = None               # why this start counts as a hang (begin()), or None
        self._load()
        self._start = time.ticks_ms()
        self.safe_mode = False

    # -- persistent state -------------------------------------------------------------------
    def _load(self):
        text = storage.read_file(self._state_path) if self._state_path else None
        try:
            st = json.loads(text) if text else {}
            self.count = int(st.get("count", 0))
            self._expect_reset = bool(st.get("expect_reset", False))
            self._running = bool(st.get("running", False))
        except (ValueError, TypeError, AttributeError):
            self.count, self._expect_reset = 0, False    # a damaged file: start over
            self._running = False

    def _save(self):
        if not self._state_path:
            return
        text = json.dumps({"count": self.count, "expect_reset": self._expect_reset,
                           "running": self._running})
        if storage.read_file(self._state_path) == text:
            return
        try:
            storage.write_atomic(self._state_path, text)
        except OSError as e:
            self._say("cannot save the crash count (%s)" % storage._errname(e))

    def _say(self, msg, error=False):
        if self.log:
            (self.log.error if error else self.log.warning)(msg)
        else:
            print(msg)

    # -- start-up ---------------------------------------------------------------------------
    def begin(self, slept=False):
        """Call once at start-up: counts an unplanned end of the last run as a hang, decides
        on safe mode. slept: the last run ended in a planned deep sleep (power.py found its
        wake marker). Returns True when the camera must run in safe mode."""
        try:
            cause = self.machine.reset_cause()
        except Exception:
            cause = None
        if self._expect_reset:
            self._expect_reset = False   # our own reset: not a hang, whatever it reports
        elif cause == PWRON_RESET:
            if self.count >= self.cfg["safe_mode_after"]:
                # safe mode never sleeps, so this power-on is someone unplugging the camera:
                # the usual way to say "try again" (one crash more brings safe mode back)
                self.count = self.cfg["safe_mode_after"] - 1
                self._say("power-cycled in safe mode: trying once more")
        elif self._running and not slept:
            self.count += 1
            self.hang = self._hang_text(cause)
            self._report(self.hang)
        self._running = True
        self._save()                     # writes only what changed
        self.safe_mode = self.count >= self.cfg["safe_mode_after"]
        if self.count:
            self._say("%d crash(es) in a row before this start%s" % (
                self.count, "; entering safe mode" if self.safe_mode else ""))
        return self.safe_mode

    def _hang_text(self, cause):
        if self.wdt.enabled:
            how = ("the main loop hung for %d s or more and the watchdog reset the camera, or "
                   "it was reset from outside" % (self.wdt.timeout_ms // 1000))
        else:
            how = "it was reset from outside (the watchdog is off)"
        return "the last run ended without a planned reset or sleep (reset cause %s): %s" % (
            cause, how)

    def stopped(self):
        """The app is being stopped on purpose (Ctrl-C, the IDE): the next start is no hang."""
        if self._running:
            self._running = False
            self._save()

    def stable(self, now_ms=None):
        """From the main loop: after recovery.stable_after_s of running, the crash series is
        over. Cheap when there is nothing to do."""
        if self.count == 0:
            return
        now = time.ticks_ms() if now_ms is None else now_ms
        if time.ticks_diff(now, self._start) >= self.cfg["stable_after_s"] * 1000:
            self.count = 0
            self._save()
            self._say("running stable: crash count reset")

    def clean_exit(self):
        """Before deep sleep: a completed cycle ends the crash series too."""
        if self.count:
            self.count = 0
            self._save()

    # -- crashes ----------------------------------------------------------------------------
    def crashed(self, exc):
        """Record an unhandled exception: report, count. Returns the back-off in seconds."""
        gc.collect()             # a MemoryError leaves little room for the report
        buf = io.StringIO()
        sys.print_exception(exc, buf)
        tb = buf.getvalue()
        self.count += 1
        self._report("unhandled exception in the camera loop\n" + tb)
        self._expect_reset = True
        self._save()
        return self.backoff_s()

    def backoff_s(self):
        r = self.cfg
        top = max(r["backoff_max_s"], r["backoff_s"])     # a max below the start means none
        return min(r["backoff_s"] * (1 << min(max(self.count - 1, 0), 16)), top)

    def _report(self, what):
        text = "crash %d in a row at %s\nfirmware %s, free memory %d bytes, storage: %s\n%s\n" % (
            self.count, applog.stamp(), _fw(), gc.mem_free(),
            self.store.describe() if self.store else "-", what)
        self._say("crash report: " + what.split("\n", 1)[0], error=True)
        if self.log:
            self.log.error(text)
        path = self._report_path()
        if path is None:
            print(text)
            return
        try:
            if storage.exists(path):
                prev = path[:-4] + ".1.txt"
                storage.remove_quiet(prev)
                os.rename(path, prev)
            storage.write_atomic(path, text)
        except OSError as e:
            print(text)
            self._say("cannot write %s (%s)" % (path, storage._errname(e)))

    def last_report(self, n=300):
        """The start of the last crash report (for the web status), or None."""
        path = self._report_path()
        text = storage.read_file(path) if path else None
        return text[:n].strip() if text else None

    def _report_path(self):
        root = self.store.root if self.store and self.store.root else None
        if root is None and self._state_path:
            root = self._state_path[: -len(STATE_FILE)] or "/"
        return storage.join(root, REPORT) if root else None

    def restart(self, delay_s, led=None):
        """Back off (feeding the watchdog), flush the log, reset. Does not return."""
        self._say("restarting in %d s" % delay_s)
        self.wdt.sleep_ms(delay_s * 1000, led)
        self._reset()

    def _reset(self):
        applog.close()
        self.machine.reset()

    def run(self, app, led=None):
        """Run app() and turn any crash into report + back-off + reset. Ctrl-C (the IDE's
        stop) passes through: it is not a crash."""
        try:
            app()
        except KeyboardInterrupt:
            self.stopped()
            raise
        except Exception as e:
            self.restart(self.crashed(e), led)

    # -- safe mode --------------------------------------------------------------------------
    def safe_loop(self, led=None):
        """Safe mode: only the LED and the watchdog. Retries the app after
        recovery.safe_mode_retry_min minutes (0: stays until power is cut). No return."""
        mins = self.cfg["safe_mode_retry_min"]
        self._say("SAFE MODE after %d crashes in a row: not streaming; crash report in %s; %s"
                  % (self.count, REPORT, "retrying in %d min" % mins if mins
                     else "fix the cause and power-cycle"), error=True)
        applog.flush()
        if led is not None:
            import status_led
            led.set_state(status_led.SAFE_MODE)
        # up to a week: longer than ticks_diff() can measure (6.2 days), so a Deadline
        retry = timeutil.Deadline(mins * 60000, time.ticks_ms)
        try:
            while not mins or not retry.passed():
                self.wdt.sleep_ms(200, led)
        except KeyboardInterrupt:
            self.stopped()
            raise
        # one more try: another crash brings safe mode straight back
        self.count = self.cfg["safe_mode_after"] - 1
        self._expect_reset = True
        self._save()
        self._reset()


def _fw():
    try:
        import omv
        return omv.version_string()
    except Exception:
        return "?"
