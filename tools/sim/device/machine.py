# Emulated `machine` for the OpenMV Cam RT1062 (mimxrt port + OpenMV's frozen LED wrapper).
# State that must outlive the MicroPython process (RTC, watchdog, LED, SD card) lives on the
# host board; this module forwards to it over the hardware bus.
import struct
import utime
import _bus
import _rtc
import _blockdev

PWRON_RESET = 1
HARD_RESET = 2      # not reported by the RT1062; kept for code that names it
WDT_RESET = 3
DEEPSLEEP_RESET = 4  # never reported: a deep-sleep wake reads PWRON_RESET on this board
SOFT_RESET = 5

_info = None


def _board():
    global _info
    if _info is None:
        import json
        _info = json.loads(_bus.call("board_info"))
    return _info


def reset_cause():
    return _board()["reset_cause"]


def reset():
    _bus.call("reset")
    _halt()


def soft_reset():
    _bus.call("soft_reset")
    _halt()


def deepsleep(ms=0):
    # The RT1062 arms its wake timer in whole seconds; < 1 s arms no timer (P11 only).
    _bus.call("deepsleep", struct.pack("<i", int(ms)))
    _halt()


def lightsleep(ms=0):
    utime.sleep_ms(ms)


def idle():
    utime.sleep_ms(1)


def unique_id():
    return _bus.call("unique_id")


def freq():
    return 600000000


def disable_irq():
    return 0


def enable_irq(state=0):
    pass


def _halt():
    # The host ends this process (the 3.3 V rail drops at once: what the app did not flush is
    # lost, as on the board); never return into the app meanwhile. If the host itself
    # is gone (killed hard), nobody will: end here rather than sleep forever.
    import sys
    while True:
        utime.sleep_ms(500)
        try:
            _bus.call("fw_version")
        except OSError:
            sys.exit(1)


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = utime.gmtime(_rtc.now())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        y, mo, d, wd, h, mi, s = dt[:7]
        secs = utime.mktime((y, mo, d, h, mi, s, 0, 0))
        _rtc.set(secs)

    def init(self, dt):
        self.datetime(dt)


class WDT:
    # One watchdog per board: the host resets the board when it starves.
    def __init__(self, id=0, timeout=5000):
        if timeout < 500 or timeout > 128000:
            raise ValueError("timeout must be 500..128000 ms")
        self._timeout = timeout
        self._last = utime.ticks_ms()
        _bus.call("wdt_start", struct.pack("<i", timeout))

    def feed(self):
        # Tell the host at most every ~50 ms: the bus round trip is cheap but not free.
        now = utime.ticks_ms()
        if utime.ticks_diff(now, self._last) >= 50:
            self._last = now
            _bus.call("wdt_feed")


_led_state = {}


class LED:
    # OpenMV's frozen wrapper: LED("LED_RED" | "LED_GREEN" | "LED_BLUE")
    def __init__(self, name):
        if name not in ("LED_RED", "LED_GREEN", "LED_BLUE", "LED_IR"):
            raise ValueError("unknown LED " + str(name))
        self._name = name
        _led_state.setdefault(name, 0)

    def _set(self, v):
        v = 1 if v else 0
        if _led_state[self._name] != v:
            _led_state[self._name] = v
            _bus.call("led", self._name + (":1" if v else ":0"))

    def on(self):
        self._set(1)

    def off(self):
        self._set(0)

    def toggle(self):
        self._set(not _led_state[self._name])

    def value(self, v=None):
        if v is None:
            return _led_state[self._name]
        self._set(v)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    PULL_NONE = 0
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=IN, pull=None, value=None):
        self._id = str(id)
        self._mode = mode
        if value is not None:
            self.value(value)

    def init(self, mode=IN, pull=None, value=None):
        self._mode = mode
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return _bus.call("pin_get", self._id)[0]
        _bus.call("pin_set", self._id + ("=1" if v else "=0"))

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_RISING):
        # Edge interrupts are not emulated while running; P11 wakes from deep sleep on the host.
        return None


class SDCard(_blockdev.BlockDev):
    # Block device of the micro SD slot (USDHC1), backed by an image file on the host.
    def __init__(self, id=1):
        super().__init__("sd")

    def present(self):
        return _bus.call("sd_present") == b"1"
