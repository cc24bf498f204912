"""The hardware bus: how emulated firmware modules in MicroPython reach the emulated board.

Every hardware operation (LED, RTC, watchdog, camera, SD card blocks, WiFi) is a request
from the MicroPython process to the host over one loopback TCP connection; the host keeps
the board's state (which must outlive the MicroPython process across resets and sleeps)
and answers. The device side is tools/sim/device/_bus.py.

Wire format (little endian):
  request:  <B name_len> <I payload_len> name payload
  response: <i status> <I payload_len> payload
status 0 = ok; > 0 = OSError(errno); -1 = RuntimeError(text); -2 = ValueError(text);
-3 = TypeError(text). Handlers return bytes-like (or None) or raise BusError.
"""
import socket
import struct
import threading
import time

REQ = struct.Struct("<BI")
RESP = struct.Struct("<iI")


class BusError(Exception):
    """Raised by a handler to make the device side raise an exception."""

    def __init__(self, status, text=""):
        super().__init__(text)
        self.status = status
        self.text = text

    @classmethod
    def oserror(cls, errno):
        return cls(errno)

    @classmethod
    def runtime(cls, text):
        return cls(-1, text)

    @classmethod
    def value(cls, text):
        return cls(-2, text)


def _recv_exact(conn, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = conn.recv_into(view[got:])
        if not k:
            raise ConnectionError("bus closed")
        got += k
    return buf


class BusServer:
    """Listens on 127.0.0.1; serves one connection at a time (one MicroPython process)."""

    def __init__(self, handlers):
        self.handlers = handlers          # name -> callable(payload: bytes) -> bytes | None
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="bus")
        self._thread.start()

    def _accept_loop(self):
        # Only close() ends it: an accept that fails once (a connection reset before it was
        # taken, ECONNABORTED, on a busy PC) must not leave the board deaf, its next firmware
        # process waiting on the bus for ever.
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self._stop or self.sock.fileno() < 0:
                    return
                time.sleep(0.01)
                continue
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:         # reset already: its process is gone
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="bus-conn").start()

    def _serve(self, conn):
        try:
            while True:
                nlen, plen = REQ.unpack(_recv_exact(conn, REQ.size))
                name = bytes(_recv_exact(conn, nlen)).decode()
                payload = bytes(_recv_exact(conn, plen)) if plen else b""
                status, out = self._dispatch(name, payload)
                if out is None:
                    out = b""
                conn.sendall(RESP.pack(status, len(out)))
                if out:
                    conn.sendall(out)
        except (ConnectionError, OSError):
            pass
        finally:
            conn.close()

    def _dispatch(self, name, payload):
        handler = self.handlers.get(name)
        if handler is None:
            return -1, ("no such bus operation: " + name).encode()
        try:
            return 0, handler(payload)
        except BusError as e:
            return e.status, e.text.encode()

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
