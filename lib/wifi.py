# WiFi station link, driven from the camera loop without ever blocking it.
#
# connect() on the CYW43 returns at once; poll() watches status() against a deadline and
# turns the codes into reasons a user can act on (network not found, wrong password). A
# lost link, or a join that failed, is retried after a back-off that starts at 2 s (a
# short drop heals fast) and doubles up to retry_interval_s. poll() returns UP with the address whenever the link
# (re)gains one, so main.py can re-bind the RTSP server (the address may have changed), and
# DOWN when it is lost.
# Power management: the radio's power save adds tens of ms of latency per packet and
# drops throughput, so it is off (PM_NONE) while a viewer is streaming. Between viewers the
# configured power_management applies: "performance" = PM_NONE, "balanced" = the CYW43's
# PM_PERFORMANCE (its default: sleeps between beacons, wakes fast), "powersave" =
# PM_POWERSAVE (battery cameras waiting for a viewer).
# The password is passed to connect() and nothing else: never logged, never in errors.
import time

UP = "up"
DOWN = "down"

IDLE = "idle"
CONNECTING = "connecting"
CONNECTED = "connected"
WAITING = "waiting"         # back-off before the next attempt
OFF = "off"

REASONS = {
    0: "link idle",
    1: "joining",
    2: "joined, no address yet",
    -1: "connection failed",
    -2: "network not found (no access point with that name in range)",
    -3: "wrong password",
}
_GOT_IP = 3

# Keys of the "wifi" section (lib/appconfig.py validates ssid .. power_management); the
# others are tuning knobs with defaults.
DEFAULTS = {
    "ssid": "",
    "password": "",
    "connect_timeout_s": 20,
    "retry_interval_s": 30,   # longest wait between attempts (the back-off's ceiling)
    "power_management": "performance",
    "retry_first_s": 2,       # first wait after a failure or drop
    "check_ms": 500,          # how often status() is read while connected
    "hostname": "",
}
_PM = {"performance": "PM_NONE", "balanced": "PM_PERFORMANCE", "powersave": "PM_POWERSAVE"}


def reason(status):
    return REASONS.get(status, "status %s" % status)


class WiFi:
    """cfg: the "wifi" section (ssid, password, ...). network: the firmware module."""

    def __init__(self, cfg=None, log=None, network=None, ticks_ms=None):
        cfg = cfg or {}
        self._log = log
        self._net = network if network is not None else __import__("network")
        self._ticks = ticks_ms or time.ticks_ms
        self.ssid = cfg.get("ssid") or ""
        self._key = cfg.get("password") or ""
        self._timeout = _num(cfg, "connect_timeout_s", 1, 300) * 1000
        self._retry_max = _num(cfg, "retry_interval_s", 1, 3600) * 1000
        self._retry_min = min(self._retry_max, _num(cfg, "retry_first_s", 1, 3600) * 1000)
        self._check = _num(cfg, "check_ms", 50, 10000)
        pm = cfg.get("power_management", DEFAULTS["power_management"])
        if pm not in _PM:
            self._say("error", "wifi: bad power_management %r, using performance", pm)
            pm = "performance"
        self._idle_pm = _PM[pm]
        self._hostname = cfg.get("hostname") or ""
        self._wlan = None
        self.state = IDLE
        self.ip = None
        self.status = 0
        self.last_reason = None
        self.streaming = False
        self.attempts = 0
        self._deadline = 0
        self._next = 0              # ticks of the next status check / attempt
        self._retry = self._retry_min
        self._reported = None       # last failure reason logged (no log flood while retrying)

    def __repr__(self):
        return "<WiFi %s %s %s>" % (self.ssid, self.state, self.ip)

    # ---------------------------------------------------------------- control

    def start(self):
        """Radio on and the first join started; poll() follows it."""
        if not self.ssid:
            self.state = OFF
            self._say("error", "wifi: no network name (ssid) configured")
            return False
        if self._hostname:
            try:
                self._net.hostname(self._hostname)
            except Exception as e:
                self._say("warning", "wifi: hostname not set: %s", e)
        try:
            self._wlan = self._net.WLAN(self._net.STA_IF)
            self._wlan.active(True)
        except Exception as e:      # radio driver refused: poll() tries again after a back-off
            self._wlan = None
            self.attempts += 1
            self._failed("radio did not start: %r" % e)
            return False
        self._join()
        return True

    def _join(self):
        self.attempts += 1
        self.state = CONNECTING
        now = self._ticks()
        self._deadline = time.ticks_add(now, self._timeout)
        self._next = now
        try:
            self._wlan.connect(self.ssid, self._key)
        except Exception as e:
            # the key stays out of the message: say only what failed
            self._failed("connect() refused: %s" % type(e).__name__)
            return
        self._say("info", "wifi: joining %s (attempt %d)", self.ssid, self.attempts)

    def _failed(self, why):
        self.state = WAITING
        self.last_reason = why
        self._next = time.ticks_add(self._ticks(), self._retry)
        if why != self._reported:
            self._reported = why
            self._say("warning", "wifi: %s: %s; retrying in %d s", self.ssid, why,
                      self._retry // 1000)
        self._retry = min(self._retry * 2, self._retry_max)
        if self._wlan is not None:
            try:
                self._wlan.disconnect()     # stop a half-done join before the next one
            except Exception:
                pass

    def poll(self):
        """Drive the link; call every loop. -> UP (new address in .ip), DOWN or None."""
        if self.state == IDLE or self.state == OFF:
            return None
        now = self._ticks()
        if time.ticks_diff(now, self._next) < 0:
            return None
        if self.state == WAITING:
            if self._wlan is None:
                self.start()
            else:
                self._join()
            return None
        self._next = time.ticks_add(now, self._check if self.state == CONNECTED else 100)
        try:
            st = self._wlan.status()
        except Exception as e:
            st = -1
            self.last_reason = "status() failed: %s" % type(e).__name__
        self.status = st
        if self.state == CONNECTING:
            return self._poll_joining(st, now)
        if st != _GOT_IP:
            self.ip = None
            self._failed("link lost (%s)" % reason(st))
            return DOWN
        return None

    def _poll_joining(self, st, now):
        if st == _GOT_IP:
            return self._up()
        if st < 0:
            self._failed(reason(st))
        elif time.ticks_diff(now, self._deadline) >= 0:
            self._failed("no connection within %d s (%s)" % (self._timeout // 1000, reason(st)))
        return None

    def _up(self):
        try:
            ip = self._wlan.ifconfig()[0]
        except Exception:
            ip = None
        if not ip or ip == "0.0.0.0":
            return None             # an address is on its way
        self.state = CONNECTED
        self.ip = ip
        self._retry = self._retry_min
        self._reported = None
        self.last_reason = None
        self._apply_pm()
        self._say("info", "wifi: connected to %s as %s", self.ssid, ip)
        return UP

    def set_streaming(self, on):
        """A viewer is (or no longer is) streaming: power save off while one is."""
        on = bool(on)
        if on != self.streaming:
            self.streaming = on
            if self.state == CONNECTED:
                self._apply_pm()

    def _apply_pm(self):
        w = self._wlan
        pm = getattr(self._net.WLAN, "PM_NONE" if self.streaming else self._idle_pm, None)
        if pm is None:
            return
        try:
            w.config(pm=pm)
        except Exception as e:
            self._say("warning", "wifi: power management not set: %s", e)

    def connected(self):
        return self.state == CONNECTED

    def rssi(self):
        try:
            return self._wlan.status("rssi")
        except Exception:
            return None

    def leave(self):
        """Disconnect and power the radio down (before deep sleep)."""
        w = self._wlan
        self.state = IDLE
        self.ip = None
        if w is None:
            return
        for step in (w.disconnect, lambda: w.active(False)):
            try:
                step()
            except Exception:
                pass
        self._say("info", "wifi: left %s, radio off", self.ssid)

    def _say(self, level, msg, *args):
        if self._log:
            getattr(self._log, level)(msg, *args)


def _num(cfg, key, lo, hi):
    v = cfg.get(key, DEFAULTS[key])
    if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi:
        return v
    return DEFAULTS[key]
