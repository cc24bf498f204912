# Emulated `machine` for the OpenMV Cam RT1062 (mimxrt port + OpenMV's frozen LED wrapper).
# State that must outlive the MicroPython process (RTC, watchdog, LED, SD card) lives on the
# host board; this module forwards to it over the hardware bus. Shaped by the firmware
# profile at the end of this file (names, WDT keywords).
import struct as _struct
import utime as _utime
import _bus
import _rtc
import _blockdev
import _profile

# reset_cause() values (source: ports/mimxrt/modmachine.c MP_PWRON_RESET.. enum and
# mp_machine_reset_cause @v1.23.0). The module exports PWRON_RESET, WDT_RESET and SOFT_RESET
# only (the profile decides): 2 is never reported, and 4 (DEEPSLEEP_RESET) has no name but
# IS reported: whenever the SRC user-reset flag is set, which a deep-sleep wake sets and
# nothing but a power loss clears, so after a wake even a later watchdog or soft reset
# reads 4 (the board models that: tools/sim/board.py).
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
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
    _bus.call("deepsleep", _struct.pack("<i", int(ms)))
    _halt()


def lightsleep(ms=0):
    _utime.sleep_ms(ms)


def idle():
    _utime.sleep_ms(1)


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
        _utime.sleep_ms(500)
        try:
            _bus.call("fw_version")
        except OSError:
            sys.exit(1)


class RTC:
    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        if dt is None:
            t = _utime.gmtime(_rtc.now())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        y, mo, d, wd, h, mi, s = dt[:7]
        secs = _utime.mktime((y, mo, d, h, mi, s, 0, 0))
        _rtc.set(secs)

    def init(self, dt):
        self.datetime(dt)


def _wdt_period(ms):
    # The WDOG counts half seconds: the timeout is clamped to 500..128000 ms and rounded
    # DOWN to a multiple of 500 ms (WDT(timeout=1200) bites after 1.0 s), never an error.
    # source: ports/mimxrt/machine_wdt.c mp_machine_wdt_make_new_instance and
    # mp_machine_wdt_timeout_ms_set @v1.23.0 (machine_wdt_make_new @v1.20.0)
    ms = min(128000, max(500, int(ms)))
    return ms // 500 * 500


class WDT:
    # One watchdog per board: the host resets the board when it starves.
    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        self._last = _utime.ticks_ms()      # host ticks: pacing of the bus calls only
        _bus.call("wdt_start", _struct.pack("<i", _wdt_period(timeout)))

    def feed(self):
        # Tell the host at most every ~50 ms: the bus round trip is cheap but not free.
        now = _utime.ticks_ms()
        if _utime.ticks_diff(now, self._last) >= 50:
            self._last = now
            _bus.call("wdt_feed")

    def timeout_ms(self, ms):
        _bus.call("wdt_start", _struct.pack("<i", _wdt_period(ms)))


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
    # A failed block read or write RETURNS -EIO (-5), it does not raise, on a card with
    # errors as on a card pulled out (source: ports/mimxrt/machine_sdcard.c
    # machine_sdcard_readblocks / machine_sdcard_writeblocks @v1.23.0). VfsFat treats any
    # non-zero return as a disk error, so file operations still raise OSError(EIO).
    def __init__(self, id=1):
        super().__init__("sd")

    def readblocks(self, block, buf):
        return 0 if self._io(0, block, buf) else -5

    def writeblocks(self, block, buf):
        return 0 if self._io(1, block, buf) else -5

    def present(self):
        return _bus.call("sd_present") == b"1"


_profile.gate(globals(), "machine")
_profile.forget("machine")
