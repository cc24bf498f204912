# The REPL the emulated board falls into when main.py ends (or is interrupted), spoken over the
# board's USB serial port: the host relays a pseudo-terminal to this process's stdin/stdout
# (tools/sim/serial.py). It follows MicroPython's shared/runtime/pyexec.c closely enough for
# mpremote and pyboard.py: the friendly REPL (">>> "), the raw REPL (Ctrl-A, "OK", output,
# \x04, error, \x04), raw-paste mode (\x05A\x01 with a flow-control window), Ctrl-B, Ctrl-C and
# Ctrl-D (soft reset: boot.py runs again, main.py does not, the REPL mode is kept).
#
# Ctrl-C while code runs: the unix port gets no interrupt character from a pipe, so the host
# sends SIGINT instead, and only while this process says its code is interruptible (see
# begin/settle below); otherwise a \x03 byte arrives here as input, as on the device.
import sys
import _bus

_in = sys.stdin.buffer
_out = sys.stdout.buffer
_b1 = bytearray(1)
_enabled = None              # None: not asked yet; False: the board has no serial port
_globals = {"__name__": "__main__"}
PASTE_WINDOW = 2048          # raw-paste flow-control window (bytes); the pipe holds far more
BANNER = b"MicroPython v1.29.0; OpenMV (emulated) with MIMXRT1062\r\n" \
         b'Type "help()" for more information.\r\n'


# -- talking to the host --------------------------------------------------------------------
def _forget_bus():
    # A KeyboardInterrupt can land in the middle of a bus call and leave half a reply in the
    # socket; the next caller must start on a fresh connection instead of reading it.
    try:
        _bus._sock.close()
    except Exception:
        pass
    _bus._sock = None


def _guard(fn):
    def call(*args):
        try:
            return fn(*args)
        except KeyboardInterrupt:
            _forget_bus()
            raise
    return call


def _serial(what):
    global _enabled
    if _enabled is False:
        return b""
    try:
        r = _bus.call("serial", what)
        _enabled = True
        return r
    except RuntimeError:         # "no such bus operation": the board runs without a serial port
        _enabled = False
        return b""


class _Micropython:
    # `import micropython` inside the app and the REPL gets this: kbd_intr(-1) must also tell
    # the host to stop turning Ctrl-C into SIGINT (mpremote's `mount` sends raw data then).
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def kbd_intr(self, c):
        self._real.kbd_intr(c)
        _serial(b"run" if c == 3 else b"nointr")


def begin():
    """Called by the boot sequence before boot.py: Ctrl-C now interrupts the scripts."""
    pending = _serial(b"run") == b"I"    # a Ctrl-C came while the board was still starting
    if not _enabled:
        return
    for name in ("call", "call_into", "call_parts"):
        f = getattr(_bus, name, None)
        if f is not None:
            setattr(_bus, name, _guard(f))
    import micropython
    sys.modules["micropython"] = _Micropython(micropython)
    if pending:
        raise KeyboardInterrupt


def settle():
    """Make Ctrl-C plain input again. A SIGINT the host sent just before is raised (and
    swallowed) in here, never later in the REPL's own code."""
    for _ in range(5):
        try:
            _serial(b"idle")
            for _ in range(3):          # backward jumps: the VM raises a pending interrupt here
                pass
            return
        except KeyboardInterrupt:
            pass


def interrupted(exc):
    """What the firmware prints when Ctrl-C stops boot.py or main.py."""
    settle()
    sys.print_exception(exc)


# -- input ----------------------------------------------------------------------------------
def _getc():
    if not _in.readinto(_b1):
        sys.exit(0)                      # the host closed the port: the board is going away
    return _b1[0]


def _w(data):
    _out.write(data)


def _print_exc(e):
    # As the firmware shows it: the frames of the code that ran, not this REPL's own.
    import io
    buf = io.StringIO()
    sys.print_exception(e, buf)
    for line in buf.getvalue().split("\n"):
        if line and "_repl.py" not in line:
            print(line)


# -- executing code -------------------------------------------------------------------------
def _execute(src, single=False):
    """Compile and run src; returns 'reset' for SystemExit (the firmware soft-resets then)."""
    try:
        _serial(b"run")
        try:
            if not isinstance(src, str):
                src = str(src, "utf-8")
            code = compile(src, "<stdin>", "single" if single else "exec")
            exec(code, _globals)
        finally:
            settle()
    except SystemExit:
        return "reset"
    except BaseException as e:
        settle()
        return e
    return None


def _raw_exec(src):
    r = _execute(src)
    _w(b"\x04")
    if r == "reset":
        _w(b"\x04")
        return r
    if r is not None:
        _print_exc(r)
    _w(b"\x04")
    return None


def _raw_paste():
    # Raw-paste mode: the window size, then one more window free; \x01 each time a window
    # has been consumed; the host ends with \x04 (or aborts with \x03).
    _w(b"R\x01" + bytes((PASTE_WINDOW & 0xFF, PASTE_WINDOW >> 8, 1)))
    src = bytearray()
    left = PASTE_WINDOW
    while True:
        c = _getc()
        if c == 4 or c == 3:
            _w(b"\x04")
            if c == 3:
                _w(b"\x04")
                sys.print_exception(KeyboardInterrupt())
                _w(b"\x04")
                return None
            break
        src.append(c)
        left -= 1
        if not left:
            _w(b"\x01")
            left = PASTE_WINDOW
    return _raw_exec(src)


def _raw():
    _serial(b"raw")
    _w(b"raw REPL; CTRL-B to exit\r\n")
    while True:
        _w(b">")
        line = bytearray()
        while True:
            c = _getc()
            if c == 1:                                   # Ctrl-A
                if len(line) == 2 and line[0] == 5:      # \x05A\x01: raw-paste request
                    if line[1] != ord("A"):
                        _w(b"R\x00>")
                        line = bytearray()
                        continue
                    if _raw_paste() == "reset":
                        return "reset"
                    break
                _w(b"raw REPL; CTRL-B to exit\r\n")
                break
            if c == 2:                                   # Ctrl-B: friendly REPL
                _w(b"\r\n")
                return "friendly"
            if c == 3:                                   # Ctrl-C: clear the line
                line = bytearray()
            elif c == 4:                                 # Ctrl-D: run it (or soft reset)
                _w(b"OK")
                if not line:
                    _w(b"\r\n")
                    return "reset"
                if _raw_exec(line) == "reset":
                    return "reset"
                break
            else:
                line.append(c)


# -- the friendly REPL ----------------------------------------------------------------------
def _needs_more(text):
    # A compound statement or an open bracket/string continues on the next line.
    last = text.rstrip().split("\n")[-1] if text.strip() else ""
    if last.endswith(":") or last.endswith("\\"):
        return True
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    return depth > 0 or text.count('"""') % 2 == 1 or text.count("'''") % 2 == 1


def _readline(prompt):
    """A line typed at the friendly REPL, or a control character (int) that ends input."""
    _w(prompt)
    line = bytearray()
    while True:
        c = _getc()
        if c == 13 or c == 10:
            _w(b"\r\n")
            return line.decode()
        if c in (1, 2, 3, 4, 5) and not (c == 4 and line):
            return c
        if c in (8, 127):
            if line:
                line.pop()
                _w(b"\x08 \x08")
        elif c >= 32 or c == 9:
            line.append(c)
            _w(bytes((c,)))


def _paste_mode():
    _w(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
    src = bytearray()
    while True:
        c = _getc()
        if c == 3:
            _w(b"\r\n")
            return None
        if c == 4:
            _w(b"\r\n")
            return src
        src.append(c)
        _w(b"\r\n=== " if c == 13 else bytes((c,)))


def _run_friendly(src, single):
    r = _execute(src, single)
    if r == "reset":
        return r
    if r is not None:
        _print_exc(r)
    return None


def _friendly(banner):
    _serial(b"friendly")
    if banner:
        _w(BANNER)
    while True:
        got = _readline(b">>> ")
        if got == 1:
            _w(b"\r\n")
            return "raw"
        if got == 2:
            _w(b"\r\n" + BANNER)
            continue
        if got == 3:
            _w(b"\r\n")
            continue
        if got == 4:
            _w(b"\r\n")
            return "reset"
        if got == 5:
            src = _paste_mode()
            if src and _run_friendly(src.replace(b"\r", b"\n"), False) == "reset":
                return "reset"
            continue
        text = got
        block = text.rstrip().endswith(":")     # a compound statement ends on an empty line
        while text.strip() and (block or _needs_more(text)):
            more = _readline(b"... ")
            if more == 3:
                _w(b"\r\n")
                text = ""
                break
            if not isinstance(more, str) or more == "":
                break
            text += "\n" + more
        if text.strip() and _run_friendly(text + "\n", "\n" not in text) == "reset":
            return "reset"


# -- entry point ----------------------------------------------------------------------------
def _soft_reset():
    import machine
    machine.soft_reset()                 # the host restarts the firmware; never returns


def run():
    """Serve the REPL on the serial port until the board resets (never returns)."""
    settle()
    if not _enabled:
        import utime
        while True:                      # no serial port: the board just idles
            utime.sleep_ms(1000)
    mode = "raw" if _serial(b"mode") == b"raw" else "friendly"
    banner = True
    while True:
        try:
            mode = _raw() if mode == "raw" else _friendly(banner)
        except KeyboardInterrupt:        # a late SIGINT; the REPL carries on
            settle()
            continue
        banner = True
        if mode == "reset":
            _soft_reset()
