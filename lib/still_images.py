# Still images on the active drive at stills.quality, on an interval, once after each wake,
# and on request (main.py calls request() when the RTSP server reports SET_PARAMETER
# "snapshot", or from any other trigger it likes).
# The stream's quality follows the link (lib/ratecontrol.py), so a still is made for itself
# (encode(), with the camera given):
#   overlay        the frame is compressed (in place) at stills.quality instead of the
#                  stream's; the stream gets that frame too when RTP/JPEG can carry it
#                  (capture.Camera.streamable: not 4:4:4), else skips it.
#   hardware_jpeg  the sensor only gives JPEG: its quality is set to stills.quality, the frames
#                  still in flight at the old one are let pass (as many as the firmware has
#                  frame buffers: with n buffers, n-1 may hold or be receiving a frame begun
#                  before the register write (framebuffer.c framebuffer_release, triple buffer
#                  swap @v4.8.1; framebuffer_get_tail @v4.5.9), and one more in case the
#                  sensor only takes the register at a frame start: not in the sources), the
#                  next is saved, then ipcam puts the adaptive quality back. The stream goes on
#                  meanwhile with those larger frames; large() tells rate control to ignore
#                  them. If the new quality takes longer than WAIT_MS, the frame in hand is
#                  saved and the log says so.
# A still at the quality in use now is the streamed JPEG itself, saved as it is.
# Without a camera (tests, tools) offer() saves the JPEG it is given when due.
# (Not named `stills`: the folder of that name on the drive would be imported instead, since
# the current directory comes first on sys.path.)
#
# Names come from the RTC in UTC, so they sort by time even across DST changes:
#   stills/2026-11-23/20261123-154501.jpg   (a second still in the same second: _01, _02...)
# Until the clock is synced the RTC may read anything (2013 after a power loss), so those
# stills go to stills/unsynced/ (named from the RTC all the same: they still sort within
# one power-on) instead of pretending to a date.
#
# Writes and retention belong to storage.py (Storage.write: atomic; Storage.make_room:
# oldest stills removed to keep the configured free space). A full, read-only, failing or
# missing card makes save() return False and log; it never raises into the camera loop.
# A save runs in the camera loop (the frame buffer is only valid until the next capture),
# so the stream pauses for the time one file takes to write: rate-limited by min_gap_ms.
import time
import timeutil

# Keys of the "stills" section used here (validated by lib/appconfig.py; min_free_mb and
# max_files are storage.py's retention).
DEFAULTS = {
    "enabled": True,
    "interval_s": 0,        # 0 = no timed stills
    "on_wake": True,
    "on_request": True,
    "min_gap_ms": 1000,     # requests closer together than this wait
    "quality": 90,          # JPEG quality of stills
}
UNSYNCED = "unsynced"
WAIT_MS = 1000              # hardware_jpeg: longest wait for a frame at the still's quality


class Stills:
    """cfg: the "stills" section. storage: storage.Storage. synced(): is the RTC trusted?
    rtc_now(): RTC seconds (UTC, port epoch)."""

    def __init__(self, cfg=None, log=None, storage=None, synced=None, rtc_now=None,
                 ticks_ms=None, camera=None):
        # storage: uses stills_dir(), make_room(extra), write(name, data), path(name), state
        # camera: capture.Camera (mode, current, fps, encode, set_quality, streamable, buffers)
        cfg = cfg or {}
        self._log = log
        self._storage = storage
        self._synced = synced or (lambda: False)
        self._rtc_now = rtc_now or timeutil.rtc_now
        self._ticks = ticks_ms or time.ticks_ms
        self.enabled = bool(cfg.get("enabled", True))
        iv = cfg.get("interval_s", 0)
        if not isinstance(iv, int) or isinstance(iv, bool) or not 0 <= iv <= 86400:
            self._say("error", "stills: bad interval_s %r, timed stills off", iv)
            iv = 0
        self._interval = iv * 1000
        self._on_wake = self.enabled and bool(cfg.get("on_wake", True))
        self._on_request = self.enabled and bool(cfg.get("on_request", True))
        if not self.enabled:
            self._interval = 0
        gap = cfg.get("min_gap_ms", DEFAULTS["min_gap_ms"])
        self._gap = gap if isinstance(gap, int) and 0 <= gap <= 60000 else DEFAULTS["min_gap_ms"]
        now = self._ticks()
        self._due = time.ticks_add(now, self._interval)
        self._last = time.ticks_add(now, -self._gap)
        q = cfg.get("quality", DEFAULTS["quality"])
        self.quality = q if isinstance(q, int) and 1 <= q <= 100 else DEFAULTS["quality"]
        self._cam = camera
        self._take = False          # encode() made the frame in hand the still
        self.busy = False           # hardware_jpeg: waiting for a frame at self.quality
        self._skip = 0              # frames still to let pass (made before the switch)
        self._t0 = 0                # ticks of the switch
        self._wait = WAIT_MS        # how long to wait for the still's quality from there
        self._tail = 0              # frames after the still that may still have its quality
        self._w0 = None             # capture ticks of the first and last frame that may have
        self._w1 = None             # the still's quality (None: up to now), for large()
        self._pending = None        # why the next offered frame is saved: "wake", "request"
        self.saved = 0
        self.failed = 0
        self.last_name = None
        self._failing = False       # log a run of failures once, and its end

    # ---------------------------------------------------------------- triggers

    def wake(self):
        """The board woke from deep sleep: keep the first frame."""
        if self._on_wake:
            self._pending = "wake"

    def request(self):
        """A still was asked for (e.g. RTSP SET_PARAMETER snapshot). -> accepted?"""
        if not self._on_request:
            return False
        if self._pending is None:
            self._pending = "request"
        return True

    def due(self):
        """Should the next frame be saved? Cheap enough for every frame."""
        now = self._ticks()
        if self._pending is not None:
            # a last save more than 6.2 days ago reads as "in the future" on the wrapped
            # tick counter: a negative gap is a long one
            since = time.ticks_diff(now, self._last)
            return since >= self._gap or since < 0
        if self._interval <= 0:
            return False
        left = time.ticks_diff(self._due, now)
        return left <= 0 or left > self._interval     # further than one interval: stale

    # ---------------------------------------------------------------- the still's frame

    def encode(self, img, t):
        """The camera loop's frame `img` (captured at ticks t) as (buffer, length, stream):
        its JPEG, at the still's quality when this frame is the still; stream: RTP/JPEG can
        carry it. The still itself is written by offer()."""
        cam = self._cam
        if self._tail and not self.busy:    # after a still: frames that may still have its
            self._tail -= 1                 # quality
            self._w1 = t
        if not self.due():
            buf, n = cam.encode(img)
            return buf, n, True
        q = self.quality
        if cam.mode == "overlay":
            buf, n = cam.encode(img, q)
            self._take = True
            self._w0 = self._w1 = t
            self._tail = 0
            return buf, n, cam.streamable(q)
        buf, n = cam.encode(img)
        if not self.busy:
            self._start(cam, q, t)
            return buf, n, True
        late = time.ticks_diff(t, self._t0) >= self._wait
        if self._skip and not late:
            self._skip -= 1
            return buf, n, True
        if self._skip:
            self._say("warning", "stills: no frame at quality %d after %d ms: saving one "
                      "that may have the stream's quality (%d frames early)", q, self._wait, self._skip)
        self.busy = False           # ipcam puts the adaptive quality back now
        self._take = True
        self._tail = cam.buffers()
        self._w1 = None
        return buf, n, True

    def _start(self, cam, q, t):
        # hardware_jpeg: the sensor to the still's quality; the frame in hand is taken when
        # every frame since the last change (cam.changed, in frames) has passed the buffers
        if cam.current != q and not cam.set_quality(q, 100):
            self._take = True       # refused (capture logged it): the stream's quality
            return
        self._skip = cam.buffers() - (cam.frames - cam.changed)
        if self._skip < 0:
            self._take = True       # settled at it already: the frame in hand
            return
        self._tail = 0
        self._w0, self._w1 = t, None
        self.busy = True
        self._t0 = t
        # bounded: WAIT_MS, or longer when the camera's own pacing (camera.fps) is slower
        self._wait = WAIT_MS
        if cam.fps and (self._skip + 1) * 1000 // cam.fps > WAIT_MS:
            self._wait = (self._skip + 1) * 1000 // cam.fps

    def large(self, t):
        """Was the frame captured at ticks t possibly made at the still's quality (rate
        control does not judge its size)? Per frame: allocates nothing."""
        w0 = self._w0
        if w0 is None or time.ticks_diff(t, w0) < 0:
            return False
        w1 = self._w1
        return w1 is None or time.ticks_diff(w1, t) >= 0

    def offer(self, buf, length):
        """Give the current JPEG (buffer, length); saved when due (with a camera: when
        encode() made it the still). -> True if saved."""
        if self._cam is not None:
            if not self._take:
                return False
            self._take = False
        elif not self.due():
            return False
        why = self._pending or "interval"
        self._pending = None
        now = self._ticks()
        self._last = now
        if why == "interval":
            self._due = time.ticks_add(now, self._interval)
        return self.save(buf, length, why)

    # ---------------------------------------------------------------- saving

    def save(self, buf, length, why="request"):
        """Write buf[:length] as a new still now. -> True when it is on the drive."""
        err = None
        try:
            ok = self._save(buf, length)
        except Exception as e:      # storage should not raise; this loop must not die if it does
            ok = False
            err = e
        if ok:
            self.saved += 1
            if self._failing:
                self._failing = False
                self._say("info", "stills: saving again (%s)", self.last_name)
        else:
            self.failed += 1
            if not self._failing:   # a run of failures is logged once, with its cause
                self._failing = True
                self._say("warning" if err is None else "error", "stills: %s still not saved (%s)",
                          why, self._why_not() if err is None else repr(err))
        return ok

    def _save(self, buf, length):
        st = self._storage
        if st is None or st.stills_dir() is None:
            return False
        if not st.make_room(length):
            return False
        name = self._name()
        if name is None:
            return False
        data = memoryview(buf)
        if length < len(data):
            data = data[:length]
        if not st.write(name, data):
            return False
        self.last_name = name
        return True

    def _name(self):
        t = timeutil.gmtime(self._rtc_now())
        if t is None:
            # an RTC this firmware cannot convert (past 2038): unsynced, named by uptime
            base = "stills/%s/up-%010d" % (UNSYNCED, self._ticks())
        else:
            folder = "%04d-%02d-%02d" % t[:3] if self._synced() else UNSYNCED
            base = "stills/%s/%04d%02d%02d-%02d%02d%02d" % ((folder,) + t[:6])
        st = self._storage
        name = base + ".jpg"
        n = 0
        while _exists(st.path(name)):
            n += 1
            if n > 99:
                return None
            name = "%s_%02d.jpg" % (base, n)
        return name

    def _why_not(self):
        st = self._storage
        if st is None:
            return "no storage"
        if st.stills_dir() is None:
            return "no drive for stills"
        return "drive " + str(getattr(st, "state", "?"))

    def _say(self, level, msg, *args):
        if self._log:
            getattr(self._log, level)(msg, *args)


def _exists(path):
    if path is None:
        return False
    import os
    try:
        os.stat(path)
        return True
    except OSError:
        return False
