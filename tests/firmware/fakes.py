# Test doubles shared by the firmware test modules (a helper module: no test_ functions, and
# not named mp_test_* so the collector does not run it). Fake ticks and loggers, temporary
# folders, RAM block devices with the SD faults the issue lists, drive layouts of each firmware
# generation built at the real "/", "/flash" and "/sdcard", a fake RTC so the emulator's `time`
# module works without the board, and fake LEDs, watchdog and machine.
import gc
import micropython
import os
import random
import sys
import vfs


class _Rtc:
    # stands in for the emulator's _rtc (the board keeps the RTC; no board in unit tests)
    t = 1356998400           # 2013-01-01: what the camera's RTC reads after power loss

    @staticmethod
    def now():
        return _Rtc.t

    @staticmethod
    def set(secs):
        _Rtc.t = secs


try:
    import _rtc         # the emulator's: patch it, whoever imported it first keeps working
    _rtc.now = _Rtc.now
    _rtc.set = _Rtc.set
except ImportError:
    sys.modules["_rtc"] = _Rtc
RTC = _Rtc



TICKS_PERIOD = 1 << 30     # the camera's ticks_ms wraps here (12.4 days)
# 2**30 itself is a heap int on the camera (31-bit small ints): arithmetic on it allocates on
# every call, so the per-call helpers below use these small-int constants, computed once
_MASK = TICKS_PERIOD - 1
_HALF = TICKS_PERIOD >> 1


class Ticks:
    """time.ticks_ms stand-in: the test moves `t` by hand; the reading wraps at 2**30 as on
    the camera (pair with CameraTicks when a test crosses the wrap)."""

    def __init__(self, start=0):
        self.t = start

    def __call__(self):
        return self.t & _MASK


def _ticks_diff(a, b):
    # every intermediate stays below 2**30 (no heap ints on the camera), as in C
    d = (a - b) & _MASK
    return d - _HALF - _HALF if d >= _HALF else d


def _ticks_add(a, d):
    if d >= _HALF or d <= -_HALF:
        raise OverflowError("ticks interval overflow")      # as the firmware's ticks_add
    a &= _MASK
    d &= _MASK
    room = _MASK - d                # a + d would pass 2**30 - 1: wrap without forming it
    return a - room - 1 if a > room else a + d


class CameraTicks:
    """`with CameraTicks():` time.ticks_add/ticks_diff count modulo 2**30 as on the camera
    (the unix port's period is 2**62, so nothing would ever wrap in a unit test)."""

    def __enter__(self):
        import time
        self._saved = (time.ticks_add, time.ticks_diff)
        time.ticks_add, time.ticks_diff = _ticks_add, _ticks_diff
        return self

    def __exit__(self, *exc):
        import time
        time.ticks_add, time.ticks_diff = self._saved


class GmtimeOverflow:
    """`with GmtimeOverflow() as g:` time.gmtime raises OverflowError from 2**31 as on
    MicroPython 1.20-1.25 (firmware 4.5.0-4.7.x); g.refused counts the refused calls."""

    def __enter__(self):
        import time
        self._saved = time.gmtime
        self.refused = 0
        real = time.gmtime

        def gmtime(secs=None):
            if secs is not None and secs >= 1 << 31:
                self.refused += 1
                raise OverflowError("overflow converting long int to machine word")
            return real(secs)
        time.gmtime = gmtime
        return self

    def __exit__(self, *exc):
        import time
        time.gmtime = self._saved


class Log:
    """A logger double keeping (level, text) per message; formats like logging does."""

    def __init__(self):
        self.lines = []

    def _add(self, level, msg, args):
        self.lines.append((level, msg % args if args else msg))

    def info(self, msg, *args):
        self._add("info", msg, args)

    def warning(self, msg, *args):
        self._add("warning", msg, args)

    def error(self, msg, *args):
        self._add("error", msg, args)

    def text(self):
        return "\n".join(l[1] for l in self.lines)


class ListLog(Log):
    """A logger double keeping "LEVEL text" lines (to search for secrets and reasons)."""

    def _add(self, level, msg, args):
        self.lines.append(level.upper() + " " + (msg % args if args else msg))

    def debug(self, msg, *args):
        self._add("debug", msg, args)

    def text(self):
        return "\n".join(self.lines)


def tmpdir(name):
    """A new empty folder on the host's /tmp; remove it with rmtree()."""
    d = "/tmp/mp_%s_%d" % (name, random.getrandbits(30))
    os.mkdir(d)
    return d


def rmtree(d):
    for name, kind, *_ in os.ilistdir(d):
        p = d + "/" + name
        if kind & 0x4000:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(d)


class TempDir:
    """`with TempDir("power") as d:` a new empty folder, removed with its content after."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.path = tmpdir(self.name)
        return self.path

    def __exit__(self, *exc):
        rmtree(self.path)


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


BS = 512


class RamDisk:
    """A block device in RAM. fault: None | "read" | "eio" (a failed read returns -EIO
    instead of raising, as machine.SDCard.readblocks does) | "write" | "readonly" | "lie"
    (acks writes, keeps old data) | "removed". remove_after: pull the card after that many
    more block writes (a write cut short)."""

    def __init__(self, blocks=1024, fat=True):
        self.data = bytearray(blocks * BS)
        self.fault = None
        self.inserted = True
        self.remove_after = None
        self.writes = 0
        if fat:
            vfs.VfsFat.mkfs(self)

    def present(self):
        return self.inserted and self.fault != "removed"

    def readblocks(self, n, buf, off=0):
        if not self.present():
            raise OSError(19)
        if self.fault == "read":
            raise OSError(5)
        if self.fault == "eio":
            return -5
        o = n * BS + off
        buf[:] = self.data[o:o + len(buf)]

    def writeblocks(self, n, buf, off=0):
        if not self.present():
            raise OSError(19)
        if self.remove_after is not None:
            if self.remove_after <= 0:
                self.fault = "removed"
                raise OSError(19)
            self.remove_after -= 1
        if self.fault == "write":
            raise OSError(5)
        if self.fault == "readonly":
            raise OSError(30)
        self.writes += 1
        if self.fault == "lie":
            return
        o = n * BS + off
        self.data[o:o + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return len(self.data) // BS if self.present() else 0
        if op == 5:
            return BS
        if op == 1:
            return 0 if self.present() else -19
        return 0


def fill(path, leave=0):
    """Fill the drive at path until about `leave` bytes are free."""
    chunk = bytes(BS * 8)
    with open(path + "/FILLER.BIN", "wb") as f:
        while True:
            st = os.statvfs(path)
            free = st[0] * st[4]
            if free <= leave:
                break
            try:
                f.write(chunk[: min(len(chunk), free - leave)])
            except OSError:
                break


def put(path, text):
    with open(path, "w") as f:
        f.write(text)


def get(path):
    with open(path) as f:
        return f.read()


class Board:
    """Lay drives out as a firmware generation does, at the real mount points.

    kind: "split" (4.6+: flash at /flash, card at /sdcard if it mounts),
          "root"  (4.5: the card at "/" if it mounts, else the flash).
    Restores the unix port's own "/" (and cwd, sys.path) on exit."""

    def __init__(self, kind, card=None, flash=None, app_on=("flash", "card"), late_card=False):
        self.kind = kind
        self.late_card = late_card      # the card answers only after the firmware gave up
        self.card = card
        self.flash = flash or RamDisk(512)
        self.app_on = app_on
        self.mounted = []

    def __enter__(self):
        import sdcheck
        sdcheck.forget()
        self._cwd = os.getcwd()
        self._path = list(sys.path)
        self._install_app()
        if self.late_card:
            self.card.inserted = False
        vfs.umount("/")
        if self.kind == "split":
            self._mount(self.flash, "/flash")
            sys.path[:] = ["", ".frozen", "/flash", "/flash/lib"]
            os.chdir("/flash")
            if self.card is not None and self._mount(self.card, "/sdcard"):
                sys.path += ["/sdcard", "/sdcard/lib"]
                os.chdir("/sdcard")
        else:
            if self.card is None or not self._mount(self.card, "/"):
                self._mount(self.flash, "/")
            sys.path[:] = ["", ".frozen", "/lib"]
            os.chdir("/")
        if self.late_card:
            self.card.inserted = True
        return self

    def _install_app(self):
        # main.py on the drives named in app_on (as a deploy would put it)
        for name, dev in (("flash", self.flash), ("card", self.card)):
            if dev is None or name not in self.app_on or not dev.present():
                continue
            try:
                vfs.mount(vfs.VfsFat(dev), "/_install")
            except OSError:
                continue
            try:
                put("/_install/main.py", "print('app from %s')\n" % name)
            except OSError:
                pass        # a faulty card: no app on it
            vfs.umount("/_install")

    def _mount(self, dev, where):
        try:
            if not dev.present():
                return False
            vfs.mount(vfs.VfsFat(dev), where)
            self.mounted.append(where)
            return True
        except OSError:
            return False

    def __exit__(self, *exc):
        import sdcheck
        sdcheck.forget()
        for where in ("/sdcard", "/flash", "/_install", "/"):
            try:
                vfs.umount(where)
            except OSError:
                pass
        vfs.mount(vfs.VfsPosix(), "/")
        os.chdir(self._cwd)
        sys.path[:] = self._path
        import gc
        gc.collect()


class FakeLed:
    def __init__(self):
        self.value = 0
        self.changes = 0

    def on(self):
        self.changes += self.value == 0
        self.value = 1

    def off(self):
        self.changes += self.value == 1
        self.value = 0


class FakeWdt:
    made = []

    def __init__(self, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        FakeWdt.made.append(self)

    def feed(self):
        self.feeds += 1


class Reset(Exception):
    """What FakeMachine.reset() raises: the test sees the reset instead of a dead process."""


class Halt(BaseException):
    """What FakeMachine.deepsleep() raises: on the board it never returns."""


class FakeMachine:
    PWRON_RESET = 1
    WDT_RESET = 3
    SOFT_RESET = 5

    def __init__(self, cause=1, halt=True, marker=None):
        self.cause = cause
        self.resets = 0
        self.halt = halt            # False: deepsleep() returns (a failed sleep)
        self.marker = marker        # the wake marker file that must exist before sleeping
        self.slept = []

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1
        raise Reset()

    def deepsleep(self, ms=0):
        with open(self.marker) as f:
            self.slept.append((ms, f.read()))
        if self.halt:
            raise Halt()


def config(**sections):
    """The default config with some sections' keys replaced: config(stills={"enabled": False})."""
    import appconfig
    cfg = appconfig.defaults()
    cfg["wifi"]["ssid"] = "test"
    for name, values in sections.items():
        cfg[name].update(values)
    return cfg


# The camera modules' constants the capture fakes use (tools/sim/profiles: image/csi tables)
JPEG, RGB565, HD, VGA = 0x06060000, 0x0C030002, 34, 12
SUB_AUTO, SUB_422, SUB_420 = 0, 0x21, 0x22


class FakeImage:
    """image.Image as lib/capture.py uses it: a buffer and the bytes of it in use; tests add
    to_jpeg()."""

    def __init__(self, cap, n):
        self.buf = bytearray(cap)
        self.n = n

    def bytearray(self):
        return self.buf

    def size(self):
        return self.n


class NullCSI:
    """csi.CSI (firmware 4.8+) whose set-up calls do nothing and that has no frame: tests
    override what they watch. 1280x720."""

    def __init__(self, **kw):
        pass

    def reset(self, hard=True):
        pass

    def pixformat(self, f):
        pass

    def framesize(self, f):
        pass

    def quality(self, q):
        pass

    def snapshot(self, time=-1, frames=-1, blocking=True, image=None):
        return None

    def width(self):
        return 1280

    def height(self):
        return 720


class HeapLocked:
    """with HeapLocked(): the body may not allocate (MemoryError if it does): a collection
    first, then the heap locked, unlocked however the body ends."""

    def __enter__(self):
        gc.collect()
        micropython.heap_lock()
        return self

    def __exit__(self, typ, val, tb):     # no *args: their tuple would need the locked heap
        micropython.heap_unlock()
        return False
