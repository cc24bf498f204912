"""The emulated board's USB serial port: a pseudo-terminal that carries the REPL.

On the camera, the USB CDC port is the MicroPython REPL: mpremote, pyboard.py and terminal
programs talk to it. Here a pty stands in for it (`SerialPort.path`, e.g. /dev/pts/5), and
this relay joins it to whichever MicroPython process currently runs the firmware: bytes
typed on the pty go to the process's stdin (queued across resets), and the board's console
output is written to the pty (`write`). The REPL itself is tools/sim/device/_repl.py.

Ctrl-C: the unix port reads its stdin from a pipe, so a \\x03 byte would never interrupt
running code. While the device reports its code interruptible (bus op "serial" b"run"),
the relay turns \\x03 into SIGINT (the unix port raises KeyboardInterrupt) and drops the byte,
as the firmware's USB driver does; at most one SIGINT per second, because a second one
arriving before the first was handled ends the unix port. A \\x03 while the board is still
booting is remembered and raised as soon as boot.py starts. At the REPL (b"idle") or with
micropython.kbd_intr(-1) (b"nointr"), \\x03 is plain input.
"""
import os
import select
import signal
import threading
import time
import tty

WRITE_WAIT = 1.0        # s a full pty may stall console output before nobody is assumed to read
PENDING_S = 10.0        # s a Ctrl-C typed before the firmware runs is kept for it


class SerialPort:
    def __init__(self, emit=None):
        self.emit = emit or (lambda kind, text: None)
        self._master, self._slave = os.openpty()
        # Raw: no echo, no line editing, no newline mapping: a plain byte pipe like USB CDC.
        # The slave end stays open here so a client closing it never hangs up the master.
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        os.set_blocking(self._master, False)
        self._lock = threading.Condition()
        self._proc = None
        self._state = "boot"       # boot | run | sent | idle | nointr
        self._sent_at = 0.0
        self._pending = 0.0        # when a Ctrl-C came while booting (0: none)
        self._mode = "friendly"    # REPL mode, kept across soft resets
        self._inq = bytearray()    # typed bytes not yet given to the process
        self._last = b""           # last byte written (for \n -> \r\n)
        self._muted = False
        self._stop = False
        rd, self._wake_w = os.pipe()
        self._wake_r = rd
        self._threads = [threading.Thread(target=self._read_loop, daemon=True, name="serial-rx"),
                         threading.Thread(target=self._write_loop, daemon=True, name="serial-in")]
        for t in self._threads:
            t.start()

    # -- the board's side -----------------------------------------------------------------
    def handlers(self):
        return {"serial": self._bus_op}

    def attach(self, proc, soft_reset=False):
        """A new firmware process runs; soft_reset keeps the REPL mode (raw stays raw)."""
        with self._lock:
            self._proc = proc
            self._state = "boot"
            # A Ctrl-C typed while the board was (re)starting still counts: mpremote sends
            # one and then waits up to 10 s for the prompt.
            if time.monotonic() - self._pending > PENDING_S:
                self._pending = 0.0
            if not soft_reset:
                self._mode = "friendly"
            self._lock.notify_all()
        if soft_reset:
            self._send(b"MPY: soft reboot\r\n")

    def detach(self, proc):
        with self._lock:
            if self._proc is proc:
                self._proc = None
                self._state = "boot"       # until the next firmware runs: Ctrl-C is kept

    def write(self, data):
        """Console output of the firmware, to the pty. The friendly REPL prints \\r\\n line
        ends as the firmware's print does; raw REPL traffic passes untouched."""
        if self._mode != "raw":
            data = self._cook(data)
        if data:
            self._send(data)

    def close(self):
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        os.write(self._wake_w, b"x")
        for t in self._threads:
            t.join(2)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def _bus_op(self, payload):
        with self._lock:
            if payload == b"run":
                if self._pending:
                    self._pending = 0.0
                    self._state, self._sent_at = "sent", time.monotonic()
                    return b"I"
                self._state = "run"
            elif payload in (b"idle", b"nointr"):
                self._state = payload.decode()
            elif payload in (b"raw", b"friendly"):
                self._mode = payload.decode()
            elif payload == b"mode":
                return self._mode.encode()
        return b""

    # -- from the pty to the process -------------------------------------------------------
    def _read_loop(self):
        while not self._stop:
            ready, _, _ = select.select([self._master, self._wake_r], [], [], 0.5)
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            if data:
                self._typed(data)

    def _typed(self, data):
        with self._lock:
            if 3 in data:
                data = bytes(b for b in data if b != 3 or self._ctrl_c())
            self._inq += data
            self._lock.notify_all()

    def _ctrl_c(self):
        """Handle one \\x03 (lock held); True if it goes on to the process as input."""
        now = time.monotonic()
        if self._state == "run" or (self._state == "sent" and now - self._sent_at > 1.0):
            self._state, self._sent_at = "sent", now
            if self._proc is not None and self._proc.poll() is None:
                os.kill(self._proc.pid, signal.SIGINT)
            return False
        if self._state == "boot":
            self._pending = now
            return False
        return self._state != "sent"

    def _write_loop(self):
        while True:
            with self._lock:
                while not self._stop and not (self._inq and self._proc is not None):
                    self._lock.wait()
                if self._stop:
                    return
                data, proc = bytes(self._inq), self._proc
                self._inq.clear()
            try:
                fd = proc.stdin.fileno()
                while data:
                    data = data[os.write(fd, data):]
            except (OSError, ValueError):
                pass                       # the process ended: like a reset, input is lost

    # -- from the process to the pty -------------------------------------------------------
    def _cook(self, data):
        out = bytearray()
        prev = self._last
        for b in data:
            if b == 10 and prev != b"\r":
                out += b"\r"
            out.append(b)
            prev = b"\r" if b == 13 else b""
        return bytes(out)

    def _send(self, data):
        self._last = data[-1:]
        view = memoryview(data)
        while view:
            if self._muted:
                if not select.select([], [self._master], [], 0)[1]:
                    return                 # still nobody reading: dropped, as USB does
                self._muted = False
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                if not select.select([], [self._master], [], WRITE_WAIT)[1]:
                    self._muted = True
            except OSError:
                return
