# Emulated `network` (CYW43 WiFi of the RT1062). The access point lives on the host: it
# decides whether association succeeds (no AP, wrong password, slow association) and when
# the link drops. The station's address is on loopback, so clients on the PC reach the app.
# Shaped by the firmware profile at the end of this file: e.g. the WLAN.PM_* power modes
# are absent on MicroPython 1.20 (firmware 4.5.0-4.5.2).
import struct as _struct
import _bus
import _profile
import socket as _socket

_was_up = False
STA_IF = 0
AP_IF = 1

# status() values (CYW43_LINK_*): the firmware's network module has no names for them
# (the profile removes these), so this module uses its own private ones.
_IDLE, _UP = 0, 3
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_JOINED = 2
STAT_GOT_IP = 3
STAT_CONNECT_FAIL = -1
STAT_NO_AP_FOUND = -2
STAT_WRONG_PASSWORD = -3


def hostname(name=None):
    return "openmv" if name is None else None


class WLAN:
    PM_NONE = 0x10
    PM_PERFORMANCE = 0xA11142
    PM_POWERSAVE = 0x111022

    def __init__(self, *interface):
        # The interface is positional only, no keywords
        # (source: extmod/network_cyw43.c network_cyw43_make_new mp_arg_check_num @v1.23.0)
        if len(interface) > 1:
            raise TypeError("function takes at most 1 positional argument")
        if interface and interface[0] != 0:         # STA_IF
            raise NotImplementedError("emulator: only the station interface is modelled")

    def active(self, flag=None):
        if flag is None:
            return _bus.call("wlan_active") == b"1"
        _bus.call("wlan_active", b"1" if flag else b"0")
        if not flag:
            self._note(_IDLE)

    def connect(self, ssid=None, key=None, *, auth=-1, security=-1, bssid=None, channel=0):
        # Non-blocking like the CYW43 driver: poll status()/isconnected() against a deadline.
        if ssid is None:
            raise OSError(22)
        s = ssid.encode()
        k = (key or "").encode()
        _bus.call("wlan_connect", _struct.pack("<HH", len(s), len(k)) + s + k)

    def disconnect(self):
        _bus.call("wlan_disconnect")
        self._note(_IDLE)

    def status(self, param=None):
        if param == "rssi":
            return -50
        st = _struct.unpack("<i", _bus.call("wlan_status"))[0]
        self._note(st)
        return st

    def isconnected(self):
        return self.status() == _UP

    def _note(self, st):
        # A link that was up and is not any more breaks every socket, as on the camera.
        global _was_up
        up = st == _UP
        if _was_up and not up:
            _socket._link_down()
        elif up and not _was_up:
            _socket._link_restored()
        _was_up = up

    def ifconfig(self, cfg=None):
        if cfg is not None:
            return None
        ip = _bus.call("wlan_ip").decode()
        return (ip, "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def ipconfig(self, key):
        if key == "addr4":
            return (self.ifconfig()[0], "255.0.0.0")
        raise ValueError(key)

    def config(self, *args, **kw):
        if kw:
            for k, v in kw.items():
                if k not in ("pm", "txpower", "hostname", "security", "channel"):
                    raise ValueError("unknown config param")
                _bus.call("wlan_config", "%s=%s" % (k, v))
            return None
        key = args[0]
        if key == "mac":
            return _bus.call("unique_id")[:6]
        if key == "pm":
            return int(_bus.call("wlan_config", "pm"))
        if key == "ssid":
            return _bus.call("wlan_config", "ssid").decode()
        raise ValueError("unknown config param")

    def scan(self):
        return []


_profile.gate(globals(), "network")
_profile.forget("network")
