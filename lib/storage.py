# Where the app's files go and how they are written.
#
# The active drive is what sdcheck decided at boot: the SD card when it passed the health
# check, otherwise the internal flash (with tight limits) or nothing at all, as configured.
# Writes are atomic (temporary file, flush, rename) so a power cut or a pulled card leaves
# the old complete file or no file, never half of one. Every filesystem error is caught
# here and turned into a state (ok / full / failed / off) the app can act on.
import os

import errno

# errno values: the firmware's own (newlib's: ETIMEDOUT is 116 on the camera, 110 on Linux);
# the fallbacks are for an errno module that lacks one (the unix port's lacks some)
ENOENT = getattr(errno, "ENOENT", 2)
EIO = getattr(errno, "EIO", 5)
EACCES = getattr(errno, "EACCES", 13)
ENODEV = getattr(errno, "ENODEV", 19)
ENOSPC = getattr(errno, "ENOSPC", 28)
EROFS = getattr(errno, "EROFS", 30)
ETIMEDOUT = getattr(errno, "ETIMEDOUT", 110)

OK = "ok"            # writes go to the active drive
FULL = "full"        # the drive is full even after retention: new files are skipped
FAILED = "failed"    # the drive failed while running and no fallback is left
OFF = "off"          # no drive for data (fallback "off" and the card is not usable)

STILLS = "stills"
LOGS = "logs"


# -- plain helpers (no state; also used by sdcheck, applog and crashguard) ------------------

def join(a, b):
    return a + b if a.endswith("/") else a + "/" + b


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def isdir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def makedirs(path):
    """mkdir -p; raises OSError when the drive refuses."""
    cur = ""
    for part in path.split("/"):
        if not part:
            continue
        cur += "/" + part
        if not isdir(cur):
            os.mkdir(cur)


def remove_quiet(path):
    try:
        os.remove(path)
        return True
    except OSError:
        return False


def free_bytes(path):
    """Bytes free for files on the drive holding path; -1 when it cannot be read."""
    try:
        st = os.statvfs(path)
        return st[0] * st[4]
    except OSError:
        return -1


def sync():
    # os.sync() exists only on some ports; closing a FAT file already writes it through
    s = getattr(os, "sync", None)
    if s:
        s()


def commit(tmp, path):
    """Move a finished temporary file into place.

    FAT's rename does not replace an existing file (MicroPython removes the target first),
    so the old file is kept as .bak until the new one is in place: whenever power is cut,
    either path or path.bak holds a complete file and read_file() recovers it.
    """
    bak = path + ".bak"
    had = exists(path)
    if had:
        remove_quiet(bak)
        os.rename(path, bak)
    os.rename(tmp, path)
    if had:
        remove_quiet(bak)


def write_atomic(path, data):
    """Write str or bytes to path atomically; raises OSError (the caller decides what it means)."""
    tmp = path + ".tmp"
    with open(tmp, "w" if isinstance(data, str) else "wb") as f:
        f.write(data)
        f.flush()
    sync()
    commit(tmp, path)


def read_file(path, binary=False):
    """Contents of path, or None. Recovers the .bak left by a write that was cut short."""
    for attempt in (0, 1):
        try:
            with open(path, "rb" if binary else "r") as f:
                return f.read()
        except OSError as e:
            if attempt or e.args[0] != ENOENT or not exists(path + ".bak"):
                return None
            try:
                os.rename(path + ".bak", path)
            except OSError:
                return None
    return None


def classify(exc):
    """An OSError as a state: FULL for no space, FAILED for anything else."""
    code = exc.args[0] if isinstance(exc, OSError) and exc.args else None
    return FULL if code == ENOSPC else FAILED


def entries_oldest_first(folder):
    """[(name, is_dir)] of folder, oldest first: names (of files and of folders such as
    per-day folders) must sort by age, e.g. timestamps in the names."""
    try:
        out = [(e[0], e[1] & 0x4000 != 0) for e in os.ilistdir(folder)]
    except OSError:
        return []
    out.sort()
    return out


def count_files(folder):
    n = 0
    for name, is_dir in entries_oldest_first(folder):
        n += count_files(join(folder, name)) if is_dir else 1
    return n


def prune(folder, min_free=0, max_files=None):
    """Retention: remove the oldest files under folder (subfolders included, emptied ones
    removed) until at least min_free bytes are free and at most max_files remain
    (None = no limit). Returns how many files were removed."""
    excess = 0 if max_files is None else count_files(folder) - max_files
    todo = [excess, False]          # [files still to remove for the count, drive refused]
    return _prune(folder, min_free, todo)


def _prune(folder, min_free, todo):
    removed = 0
    for name, is_dir in entries_oldest_first(folder):
        if todo[1] or not (todo[0] > 0 or min_free and 0 <= free_bytes(folder) < min_free):
            break
        p = join(folder, name)
        if is_dir:
            removed += _prune(p, min_free, todo)
            if not entries_oldest_first(p):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        elif remove_quiet(p):
            removed += 1
            todo[0] -= 1
        else:
            todo[1] = True       # the drive refuses: nothing more to gain here
    return removed


# -- the active drive ------------------------------------------------------------------------

class Storage:
    """The drive the app writes to, with its limits and state.

    decision: the dict from sdcheck.decide() ("card" path when the card is used, "flash" path).
    cfg: the whole validated config (uses its "storage", "stills" and "logging" sections).
    log: a logger (or None before logging is set up).
    """

    def __init__(self, decision, cfg, log=None):
        self.log = log
        self.flash = decision.get("flash")
        self.card = decision.get("card") if decision.get("card_ok") else None
        self.reason = decision.get("reason") or ""
        self._listeners = []
        self._cfg = cfg
        self.state = OK
        self._use(self.card or self._fallback())

    def _fallback(self):
        return self.flash if self._cfg["storage"]["fallback"] == "flash" else None

    def _use(self, root):
        self.root = root
        self._stills = None          # files under stills/, counted when first needed
        self.on_card = root is not None and root == self.card
        if root is None:
            self.state = OFF
        st, sc, lg = self._cfg["storage"], self._cfg["stills"], self._cfg["logging"]
        # log_bytes is the cap of each log file, log_files how many are kept (current included)
        if self.on_card:
            self.min_free = sc["min_free_mb"] * 1024 * 1024
            self.max_stills = sc["max_files"] if sc["enabled"] else 0
            self.log_bytes = lg["max_kb"] * 1024
            self.log_files = lg["files"]
        else:
            # the flash is small and shared with the app itself: tight limits
            self.min_free = st["flash_min_free_kb"] * 1024
            self.max_stills = st["flash_max_stills"] if sc["enabled"] else 0
            self.log_bytes = st["flash_log_kb"] * 1024 // 2
            self.log_files = 2

    def on_change(self, callback):
        """callback(storage) runs whenever the active drive or its state changes."""
        self._listeners.append(callback)

    def _changed(self):
        for cb in self._listeners:
            try:
                cb(self)
            except Exception as e:      # a listener must not take storage down with it
                self._say("storage listener failed: %r" % e)

    def _say(self, msg):
        if self.log:
            self.log.warning(msg)
        else:
            print(msg)

    def path(self, name):
        """Full path of name on the active drive, or None when there is no drive for data."""
        return join(self.root, name) if self.root else None

    def log_path(self):
        return self.path(LOGS + "/camera.log")

    def stills_dir(self):
        return self.path(STILLS) if self.max_stills > 0 else None

    def free(self):
        return free_bytes(self.root) if self.root else -1

    def write(self, name, data):
        """Atomic write of name on the active drive; False (and a state change) on failure."""
        p = self.path(name)
        if p is None or self.state == FAILED:
            return False
        try:
            d = p.rsplit("/", 1)[0]
            if d and not isdir(d):
                makedirs(d)
            write_atomic(p, data)
            if self._stills is not None and name.startswith(STILLS + "/"):
                self._stills += 1
            return True
        except OSError as e:
            self.fail(e, "writing " + name)
            return False

    def remove_still(self, name):
        """Remove one still (name under stills/, from the web page); False if the drive
        refuses. The count kept for retention follows."""
        p = self.path(name)
        if p is None or not name.startswith(STILLS + "/") or not remove_quiet(p):
            return False
        if self._stills:
            self._stills -= 1
        return True

    def read(self, name, binary=False):
        p = self.path(name)
        return read_file(p, binary) if p else None

    def make_room(self, extra=0):
        """Retention before saving a still of `extra` bytes: keeps min_free + extra bytes
        free and room for one more file under max_stills. True when the still may go."""
        d = self.stills_dir()
        if d is None:
            return False
        try:
            if self._stills is None:        # counted once per drive, then kept up to date
                self._stills = count_files(d)
            want = self.min_free + extra
            if self._stills >= self.max_stills or 0 <= self.free() < want:
                n = prune(d, want, self.max_stills - 1)
                self._stills = max(self._stills - n, 0)
                if n and self.log:
                    self.log.info("retention: removed %d old still(s)", n)
        except OSError as e:
            self.fail(e, "removing old stills")
            return False
        ok = self.free() >= self.min_free + extra
        if ok and self.state == FULL:
            self.state = OK
            self._changed()
        return ok

    def fail(self, exc, what):
        """Turn a filesystem error into a state; a failing card hands over to the fallback."""
        kind = classify(exc)
        where = "SD card" if self.on_card else "flash"
        if kind == FULL:
            self._say("%s full while %s" % (where, what))
            self.state = FULL
        elif self.on_card:
            self.card_lost("%s: %s" % (what, _errname(exc)))
            return
        else:
            self._say("%s failed while %s (%s): not writing files any more" % (
                where, what, _errname(exc)))
            self.state = FAILED
        self._changed()

    def card_lost(self, why):
        """The card failed or was removed while running: use the fallback from now on."""
        if not self.on_card:
            return
        self.reason = "card failed while running: " + why
        self.card = None
        self._use(self._fallback())
        if self.root:
            self.state = OK
        self._say("SD card not usable any more (%s); now %s" % (
            why, "using flash" if self.root else "not writing files"))
        self._changed()

    def poll(self, sd):
        """Cheap liveness check for the main loop: sd is machine.SDCard(1) (or a fake)."""
        if self.on_card:
            try:
                gone = not sd.present()
            except Exception:
                gone = True
            if gone:
                self.card_lost("card removed")

    def describe(self):
        if self.root is None:
            return "no drive for data (%s)" % (self.reason or "off")
        return "%s at %s (%s)" % ("SD card" if self.on_card else "flash", self.root, self.state)


def _errname(exc):
    names = {ENOENT: "ENOENT", EIO: "EIO", EACCES: "EACCES", ENODEV: "ENODEV",
             ENOSPC: "ENOSPC", EROFS: "EROFS", ETIMEDOUT: "ETIMEDOUT"}
    code = exc.args[0] if isinstance(exc, OSError) and exc.args else None
    return names.get(code, repr(exc))
