# Emulated `network` (CYW43 WiFi of the RT1062). The access point lives on the host: it
# decides whether association succeeds (no AP, wrong password, slow association) and when
# the link drops. The station's address is on loopback, so clients on the PC reach the app.
import struct
import _bus
import socket as _socket

_was_up = False
STA_IF = 0
AP_IF = 1

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

    def __init__(self, interface=STA_IF):
        if interface != STA_IF:
            raise ValueError("only the station interface is emulated")

    def active(self, flag=None):
        if flag is None:
            return _bus.call("wlan_active") == b"1"
        _bus.call("wlan_active", b"1" if flag else b"0")
        if not flag:
            self._note(STAT_IDLE)

    def connect(self, ssid=None, key=None, bssid=None):
        # Non-blocking like the CYW43 driver: poll status()/isconnected() against a deadline.
        if ssid is None:
            raise OSError(22)
        s = ssid.encode()
        k = (key or "").encode()
        _bus.call("wlan_connect", struct.pack("<HH", len(s), len(k)) + s + k)

    def disconnect(self):
        _bus.call("wlan_disconnect")
        self._note(STAT_IDLE)

    def status(self, param=None):
        if param == "rssi":
            return -50
        st = struct.unpack("<i", _bus.call("wlan_status"))[0]
        self._note(st)
        return st

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def _note(self, st):
        # A link that was up and is not any more breaks every socket, as on the camera.
        global _was_up
        up = st == STAT_GOT_IP
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
