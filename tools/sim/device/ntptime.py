# Emulated frozen `ntptime` (micropython-lib API and behaviour): one query to port 123 of
# `host`, `timeout` seconds, no validation of the answer (the app must do that).
# The emulator may redirect port 123 for users who cannot bind it (SIM_NTP_PORT).
import os
import struct
import socket
import utime

host = "pool.ntp.org"
timeout = 1

_NTP_DELTA = 2208988800        # 1900-01-01 to 1970-01-01, the port's epoch
_MIN_NTP_TIMESTAMP = 3913056000  # 2024-01-01: older answers are taken to be in the next era


def time():
    query = bytearray(48)
    query[0] = 0x1B
    port = int(os.getenv("SIM_NTP_PORT") or 123)
    addr = socket.getaddrinfo(host, port)[0][-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        s.sendto(query, addr)
        msg = s.recv(48)
    finally:
        s.close()
    val = struct.unpack("!I", msg[40:44])[0]
    if val < _MIN_NTP_TIMESTAMP:
        val += 0x100000000
    return val - _NTP_DELTA


def settime():
    t = time()
    import machine
    tm = utime.gmtime(t)
    machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
