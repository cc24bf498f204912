# Logging for the app, built on the firmware's frozen micropython-lib `logging`.
#
# Records go to the console and to logs/camera.log on the active drive. The frozen module has
# no rotation and never flushes by itself, so the file handler here caps each file's size,
# rotates camera.log -> .1 -> .2 ..., flushes warnings at once and everything else every few
# seconds, and is flushed/closed by flush()/close() before deep sleep and resets.
# A failing drive never breaks logging: the file is dropped, the console says so, and the
# storage module is told (it may move the app to flash; the log file follows it there).
import os
import sys
import time
import logging
import storage

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FLUSH_EVERY_MS = 5000          # lines below WARNING may wait this long in the file buffer

_file = None                   # the RotatingFile handler, when there is a drive for it
_console = None
_store = None
_level = logging.INFO


class LineFormatter(logging.Formatter):
    """'2025-06-01 12:00:00 INFO wifi: connected'. The RTC is UTC; before it is set (it reads
    2013 after power loss) the time is uptime, '+12.345s', rather than a wrong date."""

    def __init__(self):
        super().__init__("%(message)s")

    def format(self, record):
        return "%s %s %s: %s" % (stamp(), record.levelname, record.name, record.message)


def stamp():
    try:
        t = time.localtime()
        if t[0] >= 2024:
            return "%04d-%02d-%02d %02d:%02d:%02d" % t[:6]
    except Exception:      # no RTC (tests): fall through to uptime
        pass
    ms = time.ticks_ms()
    return "+%d.%03ds" % (ms // 1000, ms % 1000)


class RotatingFile(logging.Handler):
    """A log file with a size cap: camera.log is renamed to .1 (older ones shift up) when
    the next line would not fit; `files` counts all files kept, the current one included."""

    def __init__(self, path, max_bytes, files, level=logging.NOTSET, on_error=None):
        super().__init__(level)
        self.path = path
        self.max_bytes = max_bytes
        self.files = files
        self.on_error = on_error
        self._f = None
        self._size = 0
        self._dirty = False
        self._last_flush = time.ticks_ms()
        self._open()

    def _open(self):
        d = self.path.rsplit("/", 1)[0]
        if d and not storage.isdir(d):
            storage.makedirs(d)
        self._f = open(self.path, "a")
        try:
            self._size = os.stat(self.path)[6]
        except OSError:
            self._size = 0

    def emit(self, record):
        if self._f is None or record.levelno < self.level:
            return
        line = self.format(record) + "\n"
        try:
            if self._size and self._size + len(line) > self.max_bytes:
                self._rotate()
            self._f.write(line)
            self._size += len(line)
            self._dirty = True
            if record.levelno >= logging.WARNING or _overdue(self._last_flush):
                self.flush()
        except OSError as e:
            self._broken(e)

    def _rotate(self):
        self._f.close()
        self._f = None
        p = self.path
        storage.remove_quiet("%s.%d" % (p, self.files - 1))
        for i in range(self.files - 2, 0, -1):
            if storage.exists("%s.%d" % (p, i)):
                os.rename("%s.%d" % (p, i), "%s.%d" % (p, i + 1))
        if self.files > 1:
            os.rename(p, p + ".1")
        else:
            storage.remove_quiet(p)
        self._open()

    def _broken(self, e):
        f, self._f = self._f, None
        if f:
            try:
                f.close()
            except OSError:
                pass
        _to_console("log file %s failed (%s): logging to the console only" % (
            self.path, storage._errname(e)))
        if self.on_error:
            self.on_error(e)

    def flush(self):
        if self._f:
            try:
                self._f.flush()
            except OSError as e:
                self._broken(e)
        self._dirty = False
        self._last_flush = time.ticks_ms()

    def close(self):
        self.flush()
        if self._f:
            try:
                self._f.close()
            except OSError:
                pass
            self._f = None


def _to_console(msg):
    if _console:
        _console.stream.write("%s WARNING applog: %s\n" % (stamp(), msg))
    else:
        print(msg)


def setup(cfg, store=None, stream=None):
    """Configure the root logger from cfg["logging"]; returns the app's logger ("camera").
    store: a storage.Storage; the log file lives on its active drive and follows it."""
    global _console, _store, _level
    lg = cfg["logging"]
    _level = LEVELS.get(lg["level"], logging.INFO)
    root = logging.getLogger()
    close()
    for h in root.handlers:      # the default handler getLogger() may have made
        if h is not _console:
            h.close()
    _console = None
    handlers = []
    if lg["console"]:
        _console = logging.StreamHandler(stream or sys.stdout)
        _console.setFormatter(LineFormatter())
        _console.setLevel(_level)
        handlers.append(_console)
    root.handlers = handlers
    root.setLevel(_level)
    _store = store
    if store is not None:
        if _storage_changed not in store._listeners:
            store.on_change(_storage_changed)
        _open_file(store)
    return logging.getLogger("camera")


def _open_file(store):
    global _file
    root = logging.getLogger()
    if _file is not None:
        _file.on_error = None      # closing the old drive's file may fail: not the new drive's fault
        _file.close()
        if _file in root.handlers:
            root.handlers.remove(_file)
        _file = None
    path = store.log_path() if store.state != storage.FAILED else None
    if path is None:
        _to_console("no log file: %s" % store.describe())
        return
    try:
        _file = RotatingFile(path, store.log_bytes, store.log_files, _level, store_error)
        _file.setFormatter(LineFormatter())
        root.handlers.append(_file)
    except OSError as e:
        _file = None
        _to_console("cannot open log file %s (%s): logging to the console only" % (
            path, storage._errname(e)))
        store_error(e)


def store_error(e):
    # the file handler failed: let storage judge the drive (it may switch to flash)
    if _store is not None:
        _store.fail(e, "writing the log file")


def _storage_changed(store):
    want = store.log_path() if store.state != storage.FAILED else None
    have = _file.path if _file is not None and _file._f is not None else None
    if want != have:
        _open_file(store)
        if _file is not None:
            # the new file starts with why it is here (the old one may be out of reach)
            logging.getLogger("applog").warning("log file now on %s: %s",
                                                store.describe(), store.reason or "-")


def get(name):
    return logging.getLogger(name)


def file_path():
    """The log file in use, or None (console only)."""
    return _file.path if _file is not None and _file._f is not None else None


def tick(now_ms):
    """From the main loop: lines below WARNING reach the drive within FLUSH_EVERY_MS."""
    f = _file
    if f is not None and f._dirty and _overdue(f._last_flush, now_ms):
        f.flush()


def _overdue(last, now=None):
    # a flush more than 6.2 days ago reads as negative on the wrapped tick counter: overdue
    d = time.ticks_diff(time.ticks_ms() if now is None else now, last)
    return d >= FLUSH_EVERY_MS or d < 0


def flush():
    """Write buffered lines to the drive: before deep sleep, a reset, or a risky step."""
    if _file is not None:
        _file.flush()
    if _console is not None and hasattr(_console.stream, "flush"):
        _console.stream.flush()


def close():
    """Flush and close the log file (the console stays): before deep sleep or reset."""
    global _file
    if _file is not None:
        _file.close()
        root = logging.getLogger()
        if _file in root.handlers:
            root.handlers.remove(_file)
        _file = None
