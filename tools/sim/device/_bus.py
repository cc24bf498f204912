# Device side of the emulator's hardware bus (host side: tools/sim/bus.py).
# Emulated firmware modules call `call(name, payload)`; frames and blocks are read straight
# into the caller's buffer with `call_into`, so the hot paths allocate nothing per call.
import os
import struct
import usocket

_hdr = bytearray(5)
_resp = bytearray(8)
_sock = None


def _connect():
    global _sock
    spec = os.getenv("SIM_BUS")
    if not spec:
        raise OSError("no emulated board: SIM_BUS is not set (run under tools.sim)")
    host, port = spec.split(":")
    s = usocket.socket()
    s.connect(usocket.getaddrinfo(host, int(port))[0][-1])
    s.setsockopt(6, 1, 1)     # TCP_NODELAY: requests go out in pieces; no delayed-ACK stalls
    _sock = s


def _send(name, payload, plen):
    if _sock is None:
        _connect()
    struct.pack_into("<BI", _hdr, 0, len(name), plen)
    _sock.write(_hdr)
    _sock.write(name)
    if plen:
        _sock.write(payload, 0, plen)


def _read_exact(buf, n):
    mv = memoryview(buf)
    got = 0
    while got < n:
        k = _sock.readinto(mv[got:n]) if got else _sock.readinto(buf, n)
        if not k:
            raise OSError("emulated board went away")
        got += k


def _raise(status, text):
    if status > 0:
        raise OSError(status)
    if status == -1:
        raise RuntimeError(text)
    if status == -2:
        raise ValueError(text)
    raise TypeError(text)


def _status():
    _read_exact(_resp, 8)
    return struct.unpack_from("<iI", _resp, 0)


def call(name, payload=b"", plen=None):
    """Request `name` with `payload`; returns the reply as bytes (b"" when empty)."""
    _send(name, payload, len(payload) if plen is None else plen)
    status, n = _status()
    data = b""
    if n:
        data = bytearray(n)
        _read_exact(data, n)
        data = bytes(data)
    if status:
        _raise(status, data.decode())
    return data


def call_parts(name, head, body):
    """Request `name` with payload head + body, sent without joining them (no copy)."""
    if _sock is None:
        _connect()
    struct.pack_into("<BI", _hdr, 0, len(name), len(head) + len(body))
    _sock.write(_hdr)
    _sock.write(name)
    _sock.write(head)
    _sock.write(body)
    status, n = _status()
    if n:
        data = bytearray(n)
        _read_exact(data, n)
        if status:
            _raise(status, bytes(data).decode())
    elif status:
        _raise(status, "")


def call_into(name, payload, buf, plen=None):
    """Request `name`; the reply goes into `buf`. Returns its length."""
    _send(name, payload, len(payload) if plen is None else plen)
    status, n = _status()
    if status:
        data = bytearray(n)
        _read_exact(data, n)
        _raise(status, bytes(data).decode())
    if n > len(buf):
        raise OSError("bus reply larger than buffer")
    _read_exact(buf, n)
    return n
