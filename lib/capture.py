# The camera: 1280x720 frames from the OV5640, in one of two modes.
#   hardware_jpeg  the sensor compresses (pixformat JPEG, set quality): fastest, no overlay
#                  (a JPEG frame is immutable).
#   overlay        RGB565 frames the app can draw on, then encode() compresses them on the
#                  CPU, in place in the frame buffer, with 4:2:2 or 4:2:0 subsampling. Never
#                  the firmware's AUTO, which picks 4:4:4 from quality 60: RTP/JPEG (RFC 2435)
#                  cannot carry 4:4:4. Firmware up to 4.5.3 has no image.JPEG_SUBSAMPLING_*
#                  (to_jpeg takes no subsampling): its encoder picks 4:2:0 up to quality 35,
#                  4:2:2 up to 59 and 4:4:4 above, so there the quality is capped (59 for
#                  "422", 35 for "420") and the log says why.
#
# Everything is detected from what the firmware offers, never from its version:
#   csi module with a CSI class (4.8+)   the camera object. CSI(stream=False) keeps the IDE
#                                        preview from copying every frame (5.0+); 4.8's CSI()
#                                        has no `stream` keyword (TypeError): plain CSI().
#   no CSI class                         the legacy `sensor` module (on 4.6-4.7 `import csi`
#                                        gives that same module under a second name).
#   omv.disable_fb (up to 4.7)           called when present: the preview costs a copy.
# The number of frame buffers is left to the firmware (triple buffering when it fits):
# forcing double buffering would only lose frames.
#
# snapshot() never waits for the sensor:
#   csi:    cam.snapshot(blocking=False) returns None while no new frame is ready.
#   sensor: the legacy module has no non-blocking snapshot. Where it offers
#           get_frame_available() (the firmware's sensor module does), snapshot() is only
#           called when a frame is ready; otherwise frames are paced by a frame-period
#           timer (fps, or 30 when unset) and snapshot() blocks for at most the rest of a
#           frame.
# If no frame arrives for stall_ms, one blocking snapshot() is made anyway so a dead sensor
# surfaces as the firmware's RuntimeError (capture timeout) instead of silence. Errors are
# retried on the next call and logged; after reset_after errors in a row the sensor is
# reset and configured again.
import time

MODES = ("hardware_jpeg", "overlay")

# Keys of the "camera" section (mode, framesize, quality, subsampling, fps are validated by
# lib/appconfig.py); the others are tuning knobs with defaults.
DEFAULTS = {
    "mode": "hardware_jpeg",
    "framesize": "HD",      # 1280x720; the firmware's frame size constant name
    "quality": 80,
    "subsampling": "422",
    "fps": 0,               # target frame rate; 0 = whatever the sensor delivers
    "warmup_ms": 500,       # frames skipped after a (re)configuration: exposure settles
    "reset_after": 5,       # capture errors in a row before the sensor is reset
    "stall_ms": 2000,       # no frame this long: do one blocking capture to find out why
    "hmirror": False,
    "vflip": False,
}
_SENSOR_PERIOD_MS = 33      # pacing for the legacy sensor module without a target fps


def _import(name):
    try:
        return __import__(name)
    except ImportError:
        return None


class Camera:
    """cfg: the "camera" section. csi/sensor/image/omv: the firmware modules (tests pass
    fakes; None = import the real one; False = pretend it is absent)."""

    def __init__(self, cfg=None, log=None, csi=None, sensor=None, image=None, omv=None,
                 ticks_ms=None):
        cfg = cfg or {}
        self._log = log
        self._ticks = ticks_ms or time.ticks_ms
        self.mode = self._opt(cfg, "mode", lambda v: v in MODES)
        self.framesize = self._opt(cfg, "framesize", lambda v: isinstance(v, str) and v.isupper())
        self.quality = self._opt(cfg, "quality", lambda v: _int(v) and 1 <= v <= 100)
        sub = self._opt(cfg, "subsampling", lambda v: str(v) in ("422", "420"))
        self.fps = self._opt(cfg, "fps", lambda v: _int(v) and 0 <= v <= 120)
        self._warmup = self._opt(cfg, "warmup_ms", lambda v: _int(v) and 0 <= v <= 10000)
        self._reset_after = self._opt(cfg, "reset_after", lambda v: _int(v) and v >= 1)
        self._stall = self._opt(cfg, "stall_ms", lambda v: _int(v) and v >= 100)
        self._hmirror = bool(cfg.get("hmirror", False))
        self._vflip = bool(cfg.get("vflip", False))
        c = (_import("csi") if csi is None else csi) or None
        self._csi_mod = c if c is not None and hasattr(c, "CSI") else None
        self._sensor = None
        if self._csi_mod is None:
            self._sensor = (_import("sensor") if sensor is None else sensor) or c
        if self._csi_mod is None and self._sensor is None:
            raise RuntimeError("camera: neither csi nor sensor module is available")
        self.api = "csi" if self._csi_mod is not None else "sensor"
        self._image = image if image is not None else _import("image")
        self._omv = (_import("omv") if omv is None else omv) or None
        # None: this firmware's to_jpeg has no subsampling; the quality decides it (_cap)
        self._sub = getattr(self._image, "JPEG_SUBSAMPLING_" + str(sub), None)
        self.encode_quality = self.quality
        if self.mode == "overlay" and self._sub is None:
            self._cap(str(sub))
        # the highest quality set_quality() gives: the configured one (capped as above)
        self.top = self.encode_quality
        self.current = self.top     # the quality frames are made with now
        self.changed = -64          # self.frames when it last changed (frames taken before
                                    # it may have the old one: lib/still_images.py)
        self._cam = None
        self._ready_fn = None       # sensor.get_frame_available, when the firmware has it
        self._period = 1000 // self.fps if self.fps else 0
        self._pace = self._period or (0 if self.api == "csi" else _SENSOR_PERIOD_MS)
        self._next = 0              # ticks of the earliest next capture (pacing)
        self._last = 0              # ticks of the last frame
        self._encode_fn = 0         # 0 to_jpeg, 1 compress (firmware without to_jpeg)
        self.frames = 0
        self.errors = 0             # capture errors since start
        self.errors_in_row = 0
        self.resets = 0
        self.width = 0
        self.height = 0
        self.started = False

    def _cap(self, sub):
        # RFC 2435 carries 4:2:2 and 4:2:0 only: keep the encoder's own choice below 4:4:4
        top = 35 if sub == "420" else 59
        if self.quality > top:
            self.encode_quality = top
        if self._log:
            self._log.warning(
                "camera: this firmware's JPEG encoder has no subsampling setting and uses "
                "4:4:4 from quality 60, which RTP/JPEG cannot carry: overlay quality %d "
                "(4:2:%d) instead of %d", self.encode_quality,
                0 if self.encode_quality <= 35 else 2, self.quality)

    def _opt(self, cfg, key, check):
        v = cfg.get(key, DEFAULTS[key])
        try:
            if check(v):
                return v
        except (TypeError, ValueError):
            pass
        if self._log:
            self._log.error("camera: bad %s %r, using %r", key, v, DEFAULTS[key])
        return DEFAULTS[key]

    # ---------------------------------------------------------------- set-up

    def start(self):
        """Detect, configure 1280x720 in the configured mode, let exposure settle."""
        self._configure()
        self.started = True
        now = self._ticks()
        self._last = now
        self._next = now
        if self._log:
            self._log.info("camera: %s API, %dx%d %s, quality %d%s", self.api, self.width,
                           self.height, self.mode, self.quality,
                           (", %d fps target" % self.fps) if self.fps else "")

    def _configure(self):
        if self.api == "csi":
            self._configure_csi()
        else:
            self._configure_sensor()

    def _configure_csi(self):
        c = self._csi_mod
        if self._cam is None:
            try:
                # stream=False: the IDE preview would copy every frame (CPU and bandwidth)
                self._cam = c.CSI(stream=False)
            except TypeError:       # 4.8: CSI(cid, delays, fflush, fb_size), no stream
                self._cam = c.CSI()
        cam = self._cam
        cam.reset()
        cam.pixformat(c.JPEG if self.mode == "hardware_jpeg" else c.RGB565)
        cam.framesize(self._size(c))
        if self.mode == "hardware_jpeg":
            cam.quality(self.current)
        self._try(getattr(cam, "hmirror", None), self._hmirror)
        self._try(getattr(cam, "vflip", None), self._vflip)
        if self._warmup:
            cam.snapshot(time=self._warmup)
        self.width = cam.width()
        self.height = cam.height()

    def _configure_sensor(self):
        s = self._sensor
        s.reset()
        s.set_pixformat(s.JPEG if self.mode == "hardware_jpeg" else s.RGB565)
        s.set_framesize(self._size(s))
        if self.mode == "hardware_jpeg":
            s.set_quality(self.current)
        self._try(getattr(s, "set_hmirror", None), self._hmirror)
        self._try(getattr(s, "set_vflip", None), self._vflip)
        # 4.5-4.7: the IDE preview frame buffer costs a copy per frame unless disabled
        self._try(getattr(self._omv, "disable_fb", None), True)
        self._ready_fn = getattr(s, "get_frame_available", None)
        self._pace = self._period or (0 if self._ready_fn else _SENSOR_PERIOD_MS)
        if self._warmup:
            s.skip_frames(time=self._warmup)
        self.width = s.width()
        self.height = s.height()

    def _size(self, mod):
        size = getattr(mod, self.framesize, None)
        if size is None:
            if self._log:
                self._log.error("camera: frame size %s unknown to this firmware; using HD",
                                self.framesize)
            self.framesize = "HD"
            size = mod.HD
        return size

    def _try(self, fn, arg):
        # optional settings: only applied when asked for (reset() already cleared them)
        if fn is None or not arg:
            return
        try:
            fn(arg)
        except Exception as e:      # optional controls: absent or refused on some firmware
            if self._log:
                self._log.warning("camera: %s", e)

    # ---------------------------------------------------------------- frames

    def snapshot(self):
        """The next frame, or None when none is ready yet (or capture failed, or not started)."""
        if not self.started:
            return None
        now = self._ticks()
        # not before the next frame is due; a due time further ahead than one period is
        # stale (no frame was asked for in 6+ days and the tick counter wrapped past it)
        if self._pace and 0 < time.ticks_diff(self._next, now) <= self._pace:
            return None
        stalled = time.ticks_diff(now, self._last) >= self._stall
        try:
            img = self._grab(stalled)
        except (RuntimeError, OSError) as e:
            self._failed(e)
            return None
        if img is None:
            return None
        now = self._ticks()
        self._last = now
        if self._pace:
            # keep the cadence; after a long gap start again from now rather than catch up
            nxt = time.ticks_add(self._next, self._pace)
            self._next = nxt if time.ticks_diff(nxt, now) > 0 else time.ticks_add(now, self._pace // 2)
        self.frames += 1
        self.errors_in_row = 0
        return img

    def _grab(self, stalled):
        if self._cam is not None:
            if stalled:
                return self._cam.snapshot()
            return self._cam.snapshot(blocking=False)
        if self._ready_fn is not None and not stalled:
            try:
                if not self._ready_fn():
                    return None
            except Exception as e:      # present but refusing: pace by time from now on
                self._no_ready_fn(e)
                return None
        return self._sensor.snapshot()

    def _no_ready_fn(self, e):
        self._ready_fn = None
        self._pace = self._period or _SENSOR_PERIOD_MS
        if self._log:
            self._log.warning("camera: get_frame_available failed (%r): frames paced by time", e)

    def _failed(self, e):
        self.errors += 1
        self.errors_in_row += 1
        self._last = self._ticks()      # the failed capture already waited; no instant retry
        if self._log:
            self._log.warning("camera: capture failed (%d in a row): %s", self.errors_in_row, e)
        if self.errors_in_row >= self._reset_after:
            self.reset()

    def reset(self):
        """Reset and configure the sensor again (after repeated capture errors)."""
        self.errors_in_row = 0
        self.resets += 1
        try:
            self._configure()
            if self._log:
                self._log.error("camera: sensor reset after repeated capture errors (reset #%d)",
                                self.resets)
            return True
        except Exception as e:
            if self._log:
                self._log.error("camera: sensor reset failed: %s", e)
            return False

    def encode(self, img, quality=0):
        """The frame's JPEG as (buffer, length), without copying.

        overlay mode: compresses the RGB565 frame in place first, at `quality` (a still's;
        not capped: see streamable()) or else the stream's. The buffer is a view of the
        frame buffer: valid until the next snapshot()."""
        if self.mode == "overlay":
            q = quality or self.encode_quality
            if self._encode_fn == 0:
                try:
                    self._jpeg(img.to_jpeg, q)
                except AttributeError:      # firmware before to_jpeg: compress() is in place
                    self._encode_fn = 1
                    self._jpeg(img.compress, q)
            else:
                self._jpeg(img.compress, q)
        return img.bytearray(), img.size()

    def _jpeg(self, fn, q):
        if self._sub is None:
            fn(quality=q)
        else:
            fn(quality=q, subsampling=self._sub)

    def streamable(self, q):
        """Can RTP/JPEG carry a frame encoded at quality q? Not a 4:4:4 one: firmware without
        a subsampling setting encodes overlay frames above 59 in 4:4:4 (a still saved to the
        card may be: it is never sent over RTP)."""
        return self.mode != "overlay" or self._sub is not None or q < 60

    def buffers(self):
        """The firmware's frame buffer count (csi framebuffers(), sensor get_framebuffers());
        3, triple buffering, when it cannot say."""
        try:
            if self._cam is not None:
                n = self._cam.framebuffers()
            else:
                n = self._sensor.get_framebuffers()
            if _int(n) and 1 <= n <= 32:
                return n
        except Exception:       # absent on this firmware: assume the default
            pass
        return 3

    def set_quality(self, q, ceiling=0):
        """JPEG quality of the next frames (at most self.top, or `ceiling`: a still asks for
        its own), e.g. from lib/ratecontrol. -> True when frames will have it.
        hardware_jpeg: the sensor's quantisation register (csi CSI.quality(q) on 4.8+,
        sensor.set_quality(q) before: an I2C write, frames already in the sensor's buffers
        keep the old one); overlay: to_jpeg's quality. Only a change reaches the sensor."""
        top = ceiling or self.top
        q = top if q > top else 1 if q < 1 else q
        if q == self.current:
            return True
        self.changed = self.frames
        if self.mode == "overlay":
            self.encode_quality = self.current = q
            return True
        try:
            if self._cam is not None:
                ok = self._cam.quality(q)
            else:
                ok = self._sensor.set_quality(q)
            if ok is False:         # the driver's I2C write failed
                raise OSError("sensor did not take it")
            self.current = q
            return True
        except Exception as e:      # refused (a sensor without the register): keep streaming
            if self._log:
                self._log.warning("camera: quality %d refused: %r", q, e)
            if not ceiling:
                self.top = self.current     # never ask again
            return False

    def close(self):
        """Power the sensor down (before deep sleep); errors are ignored."""
        try:
            if self._cam is not None:
                self._cam.shutdown(True)
            elif self._sensor is not None:
                self._sensor.shutdown(True)
        except Exception:
            pass
        self.started = False


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)
