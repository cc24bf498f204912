# Emulated frozen `ntptime` (micropython-lib micropython/net/ntptime/ntptime.py, the commit
# the firmware freezes; the profile names it): one query to port 123 of `host`, `timeout`
# seconds, no validation of the answer (the app must do that).
# From micropython-lib cb281a41 ("Fix Year 2036 bug", frozen from firmware 4.5.6) an answer
# before 1 January of the profile's "ntptime_era_pivot_year" (2024) is taken to be in the
# next NTP era, 2**32 s later: past 2036. settime() then hands that to the firmware's
# gmtime(), which overflows on MicroPython 1.23-1.25 (4.5.6-4.7): settime() raises
# OverflowError there. Firmware 4.5.0-4.5.2 freezes the version without that mapping.
# The emulator may redirect port 123 for users who cannot bind it (SIM_NTP_PORT).
import os as _os
import struct as _struct
import socket as _socket
import time as _time
import _profile

host = "pool.ntp.org"
timeout = 1

_NTP_DELTA = 2208988800        # 1900-01-01 to 1970-01-01, the port's epoch
_pivot = _profile.fact("ntptime_era_pivot_year", 2024)
_MIN_NTP = None if _pivot is None else _time.mktime((_pivot, 1, 1, 0, 0, 0, 0, 0)) + _NTP_DELTA


def time():
    query = bytearray(48)
    query[0] = 0x1B
    port = int(_os.getenv("SIM_NTP_PORT") or 123)
    addr = _socket.getaddrinfo(host, port)[0][-1]
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(query, addr)
        msg = s.recv(48)
    finally:
        s.close()
    val = _struct.unpack("!I", msg[40:44])[0]
    if _MIN_NTP is not None and val < _MIN_NTP:
        val += 0x100000000
    return val - _NTP_DELTA


def settime():
    t = time()
    import machine
    tm = _time.gmtime(t)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))


def _shape():
    global host, timeout
    spec = _profile.gate(globals(), "ntptime")
    d = spec.get("defaults", {})
    host = d.get("host", host)
    timeout = d.get("timeout", timeout)
    _profile.forget("ntptime")


_shape()
