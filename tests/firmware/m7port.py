# Runs on the Cortex-M7 tool (../shared/tools/cortex-m7: MicroPython's qemu port on an emulated
# Cortex-M7, booted by tests/m7kit.py): fills in what that port lacks and the camera has, so the
# firmware tests run there unchanged. _runner.py calls setup() before importing a test module.
# Not filled in (tests/m7kit.py lists the tests that need them): vfs.VfsFat, sockets, 8 MB heap.
import errno
import io
import random
import sys
import vfs


def setup(repo):
    """repo: where tests/m7kit.py put the project on the target (/rom/<name>, read-only)."""
    import os
    import utime                        # the built-in time (no utime.py anywhere on the path)
    sys.path[:] = [repo + "/tests/firmware", repo + "/lib", repo + "/tools/sim/device"]
    # the tool's own helper (m7) imported the built-in time and machine before our path was
    # set: forget them, so `import time` finds the emulator's time.py as on the unix port
    for name in ("time", "machine"):
        sys.modules.pop(name, None)
    sys.modules["os"] = _Os(os)
    sys.modules["utime"] = _Utime(utime)
    sys.modules["usocket"] = _NoNet
    vfs.mount(RamFs(), "/tmp")          # the unix port's /tmp: the tests' temporary folders


# -- time: the camera's has gmtime/localtime/mktime (the unix port's too), the qemu port's not
def _days(y, m, d):
    # days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil)
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def mktime(t):
    # like MicroPython's timeutils_mktime: out-of-range fields carry over
    y, mo = t[0] + (t[1] - 1) // 12, (t[1] - 1) % 12 + 1
    return _days(y, mo, 1) * 86400 + (t[2] - 1) * 86400 + t[3] * 3600 + t[4] * 60 + t[5]


def gmtime(secs=0):
    secs = int(secs)
    if not -(1 << 31) <= secs < 1 << 31:
        # the worst case of the camera's C gmtime: seconds as a 32-bit mp_int_t on firmware
        # 4.5.0-4.7.x (docs/firmware-facts.md)
        raise OverflowError("overflow converting long int to machine word")
    z, s = divmod(secs, 86400)
    wd = (z + 3) % 7                    # 1970-01-01 was a Thursday; Monday is 0
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    return (y, m, d, s // 3600, s // 60 % 60, s % 60, wd, _days(y, m, d) - _days(y, 1, 1) + 1)


class _Utime:
    # the built-in time module plus the calendar functions above
    def __init__(self, t):
        self._t = t
        self.gmtime = self.localtime = gmtime
        self.mktime = mktime

    def __getattr__(self, name):
        return getattr(self._t, name)


class _Os:
    # the built-in os plus urandom() (the camera's TRNG) and getenv() (the emulator's device
    # modules read their settings with it; there are none here)
    def __init__(self, os):
        self._os = os

    def __getattr__(self, name):
        return getattr(self._os, name)

    @staticmethod
    def urandom(n):
        return bytes(random.getrandbits(8) for _ in range(n))

    @staticmethod
    def getenv(name, default=None):
        return default


class _NoNet:
    # the unix port's usocket, under the emulator's socket.py, without a network: its constants
    # (Linux values, as there), but making a socket fails
    AF_INET = 2
    AF_INET6 = 10
    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    SOCK_RAW = 3
    SOL_SOCKET = 1
    SO_REUSEADDR = 2
    SO_BROADCAST = 6
    SO_KEEPALIVE = 9
    MSG_PEEK = 2
    MSG_DONTWAIT = 64
    IP_ADD_MEMBERSHIP = 35

    @staticmethod
    def socket(*a):
        raise OSError(errno.ENODEV)

    @staticmethod
    def getaddrinfo(*a):
        raise OSError(errno.ENODEV)


# -- a RAM filesystem for /tmp (the qemu port has only the read-only ROMFS) --------------------
_DIR = 0x4000
_FILE = 0x8000


class RamFs:
    """A vfs object in RAM: folders are dicts, files bytearrays. Reports a 32 GB drive, so
    free-space sums pass 2**31 as on a real card."""
    BSIZE = 32768
    BLOCKS = 1000000

    def __init__(self):
        self.root = {}
        self.cwd = "/"

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def _parts(self, path):
        if not path.startswith("/"):
            path = self.cwd + "/" + path
        out = []
        for p in path.split("/"):
            if p == "..":
                if out:
                    out.pop()
            elif p and p != ".":
                out.append(p)
        return out

    def _find(self, parts):
        node = self.root
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                raise OSError(errno.ENOENT)
            node = node[p]
        return node

    def _parent(self, path):
        parts = self._parts(path)
        if not parts:
            raise OSError(errno.EPERM)
        folder = self._find(parts[:-1])
        if not isinstance(folder, dict):
            raise OSError(errno.ENOTDIR)
        return folder, parts[-1]

    def open(self, path, mode):
        folder, name = self._parent(path)
        node = folder.get(name)
        if isinstance(node, dict):
            raise OSError(errno.EISDIR)
        if "x" in mode and node is not None:
            raise OSError(errno.EEXIST)
        if "w" in mode or "x" in mode or node is None and "a" in mode:
            node = folder[name] = bytearray()
        elif node is None:
            raise OSError(errno.ENOENT)
        return _File(node, mode)

    def ilistdir(self, path):
        folder = self._find(self._parts(path))
        if not isinstance(folder, dict):
            raise OSError(errno.ENOTDIR)
        return iter([(k, _DIR if isinstance(v, dict) else _FILE, 0,
                      0 if isinstance(v, dict) else len(v)) for k, v in folder.items()])

    def mkdir(self, path):
        folder, name = self._parent(path)
        if name in folder:
            raise OSError(errno.EEXIST)
        folder[name] = {}

    def rmdir(self, path):
        folder, name = self._parent(path)
        node = folder.get(name)
        if not isinstance(node, dict):
            raise OSError(errno.ENOTDIR if node is not None else errno.ENOENT)
        if node:
            raise OSError(errno.EACCES)         # what VfsFat says for a folder not empty
        del folder[name]

    def remove(self, path):
        folder, name = self._parent(path)
        node = folder.get(name)
        if node is None:
            raise OSError(errno.ENOENT)
        if isinstance(node, dict):
            raise OSError(errno.EISDIR)
        del folder[name]

    def rename(self, old, new):
        f1, n1 = self._parent(old)
        f2, n2 = self._parent(new)
        if n1 not in f1:
            raise OSError(errno.ENOENT)
        if isinstance(f2.get(n2), dict):
            raise OSError(errno.EEXIST)
        f2[n2] = f1.pop(n1)                     # VfsFat also replaces an existing file

    def stat(self, path):
        node = self._find(self._parts(path))
        if isinstance(node, dict):
            return (_DIR, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return (_FILE, 0, 0, 0, 0, 0, len(node), 0, 0, 0)

    def statvfs(self, path):
        self._find(self._parts(path))           # as on unix: ENOENT for a missing folder
        used = self._used(self.root)
        free = self.BLOCKS - used
        return (self.BSIZE, self.BSIZE, self.BLOCKS, free, free, 0, 0, 0, 0, 255)

    def _used(self, folder):
        n = 0
        for v in folder.values():
            n += self._used(v) if isinstance(v, dict) else (len(v) + self.BSIZE - 1) // self.BSIZE
        return n

    def chdir(self, path):
        parts = self._parts(path)
        if not isinstance(self._find(parts), dict):
            raise OSError(errno.ENOTDIR)
        self.cwd = "/" + "/".join(parts)

    def getcwd(self):
        return self.cwd


class _File(io.IOBase):
    # a file of RamFs: reads and writes go straight to the file's bytearray
    def __init__(self, data, mode):
        self.data = data
        self.text = "b" not in mode
        self.pos = len(data) if "a" in mode else 0
        self.closed = False

    def readinto(self, buf, n=-1):
        n = len(buf) if n < 0 else min(n, len(buf))
        n = max(0, min(n, len(self.data) - self.pos))
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def _out(self, b):
        return b.decode() if self.text else bytes(b)

    def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        b = self.data[self.pos:end]
        self.pos = max(self.pos, end)
        return self._out(b)

    def readline(self):
        i = self.data.find(b"\n", self.pos)
        return self.read(-1 if i < 0 else i + 1 - self.pos)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def write(self, b, off=0, n=-1):
        if isinstance(b, str):
            b = b.encode()
        b = memoryview(b)[off:] if n < 0 else memoryview(b)[off:off + n]
        end = self.pos + len(b)
        if end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[self.pos:end] = b
        self.pos = end
        return len(b)

    def seek(self, off, whence=0):
        self.pos = max(0, off + (0, self.pos, len(self.data))[whence])
        return self.pos

    def tell(self):
        return self.pos

    def flush(self):
        pass

    def ioctl(self, req, arg):
        return 0

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
