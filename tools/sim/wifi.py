"""Host side of the emulated WiFi: one access point the camera's station can join.

Faults (--wifi-fault / Board.wifi.fault):
  none            association succeeds after `assoc_delay` seconds
  no_ap           the network is not in range (status -2)
  wrong_password  the key is refused (status -3)
  slow            association takes `slow_delay` seconds
The link can be dropped while running with drop(); the station then sees status 0 (link
down), every socket breaks, and a new connect() works again.
"""
import struct
import threading
import time

STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 0, 1, 3
STAT_CONNECT_FAIL, STAT_NO_AP, STAT_WRONG_PASSWORD = -1, -2, -3
FAULTS = ("none", "no_ap", "wrong_password", "slow")


class AccessPoint:
    def __init__(self, emit, ssid=None, key=None, fault="none", assoc_delay=0.3, slow_delay=8.0):
        self.emit = emit
        self.ssid = ssid            # None: accept whatever network name the camera asks for
        self.key = key              # None: accept any key
        self.fault = fault
        self.assoc_delay = assoc_delay
        self.slow_delay = slow_delay
        self.ip = "127.0.0.1"
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        """The board lost power: the radio is off."""
        self.active = False
        self.state = STAT_IDLE
        self.joined_at = None
        self.pm = 0xA11142
        self.want = None

    def handlers(self):
        return {
            "wlan_active": self._active,
            "wlan_connect": self._connect,
            "wlan_disconnect": self._disconnect,
            "wlan_status": lambda p: struct.pack("<i", self.status()),
            "wlan_ip": lambda p: self.ip.encode(),
            "wlan_config": self._config,
        }

    def _active(self, payload):
        if payload:
            self.active = payload == b"1"
            if not self.active:
                self.state = STAT_IDLE
            self.emit("wifi", "radio " + ("on" if self.active else "off"))
        return b"1" if self.active else b"0"

    def _connect(self, payload):
        n, k = struct.unpack_from("<HH", payload, 0)
        ssid = payload[4:4 + n].decode()
        key = payload[4 + n:4 + n + k].decode()
        if not self.active:
            self.active = True
        with self.lock:
            self.want = (ssid, key)
            self.state = STAT_CONNECTING
            self.joined_at = time.monotonic() + (self.slow_delay if self.fault == "slow"
                                                 else self.assoc_delay)
        self.emit("wifi", "joining %r" % ssid)        # never the key
        return b""

    def _disconnect(self, payload):
        with self.lock:
            if self.state == STAT_GOT_IP:
                self.emit("wifi", "disconnected by the camera")
            self.state = STAT_IDLE
        return b""

    def _config(self, payload):
        text = payload.decode()
        if text.startswith("pm="):
            self.pm = int(text[3:])
            self.emit("wifi", "power management %s" % ("off" if self.pm == 0x10 else "on"))
        elif text == "pm":
            return str(self.pm).encode()
        elif text == "ssid":
            return (self.want[0] if self.want else "").encode()
        return b""

    def status(self):
        with self.lock:
            if self.state == STAT_CONNECTING and time.monotonic() >= self.joined_at:
                self.state = self._outcome()
                if self.state == STAT_GOT_IP:
                    self.emit("wifi", "connected, address %s" % self.ip)
                else:
                    self.emit("wifi", "join failed (status %d)" % self.state)
            return self.state

    def _outcome(self):
        ssid, key = self.want
        if self.fault == "no_ap" or (self.ssid is not None and ssid != self.ssid):
            return STAT_NO_AP
        if self.fault == "wrong_password" or (self.key is not None and key != self.key):
            return STAT_WRONG_PASSWORD
        return STAT_GOT_IP

    def drop(self, new_ip=None):
        """The link is lost (out of range, AP rebooted). A later connect() gets new_ip."""
        with self.lock:
            self.state = STAT_IDLE
            if new_ip:
                self.ip = new_ip
        self.emit("wifi", "link lost")
