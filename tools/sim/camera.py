"""The emulated OV5640 camera and the image codec, host side of `csi`, `sensor` and `image`.

The device modules (tools/sim/device/csi.py, sensor.py, image.py, _fb.py) keep the firmware's
state (pixel format, frame size, frame buffers); this model owns what the hardware does:
the sensor clock (frames complete every 1/fps seconds whether or not anyone reads them),
the picture (tools/sim/frames.py), JPEG encoding, and injected capture errors.

Register `CameraModel(...).handlers()` on the board's BusServer. Bus operations (all
little-endian):
  profile        b"" | b"module:NAME"
                                -> the firmware profile, one part at a time, as JSON (see
                                   profile_part; tools/sim/device/_profile.py reads it)
  cam_info                      -> <BBBI> firmware major, minor, patch, FB_POOL_BYTES
  cam_reset                     sensor reset: streaming restarts, shutdown ends
  cam_shutdown   <B on>         power the sensor down (captures then time out) or up
  cam_snapshot   <IHHBB> pixformat, width, height, quality, blocking
                                -> frame bytes (RGB565 / grayscale / JPEG); b"" when not
                                   blocking and no new frame is ready
  cam_ready      <IHHBB> as cam_snapshot -> <B> 1 when a frame completed since the last
                                one taken (sensor.get_frame_available), else 0
  cam_skip       <IHHBBxxii> as cam_snapshot, then frames, ms: let frames pass (-1 = no
                                limit on that axis; both -1: 300 ms, like skip_frames())
  img_jpeg       <HHIBBI> w, h, pixformat, quality, subsampling, capacity, then (at HDR)
                                the pixels -> the JPEG, which the device reads straight
                                into the same frame buffer
  img_encode     <HHIBBI> w, h, pixformat, quality, kind (1 jpg 2 bmp 3 ppm 4 png), 0,
                                then the pixels -> the file's bytes (Image.save)
"""
import collections
import io
import json
import struct
import threading
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import frames, profiles
from .bus import BusError

# Frame-buffer pool of the emulated camera (bytes). The device allocates it once, at import of
# _fb.py, inside MicroPython's GC heap, so the board must start MicroPython with
# heap = 8 MB + FB_POOL_BYTES. It holds three 720p RGB565 buffers (3 x 1,843,216 bytes with
# their bus headers), like the camera's triple buffering at HD. Must equal _fb.FB_POOL_BYTES.
FB_POOL_BYTES = 6 * 1024 * 1024
HDR = 16                          # bytes reserved in front of every device frame buffer
JPEG_MAX = 1024 * 1024            # the firmware's JPEG encoder output limit

GRAYSCALE = 0x08020001            # OpenMV's pixformat values
RGB565 = 0x0C030002
JPEG = 0x06060000

CAPTURE_TIMEOUT = "Frame capture has timed out."
SUB_AUTO, SUB_444, SUB_422, SUB_420 = 0, 0x11, 0x21, 0x22

_SNAP = struct.Struct("<IHHBB")
_SKIP = struct.Struct("<IHHBBxxii")
_IMG = struct.Struct("<HHIBBI")
_FMT_NAMES = {RGB565: "RGB565", GRAYSCALE: "GRAYSCALE", JPEG: "JPEG"}


@dataclass
class FrameRecord:
    """One picture the camera produced, for tests: what did the firmware get?"""
    frame_id: int          # sensor frame number (also stamped in synthetic pictures)
    time: float            # capture time, time.time() clock
    kind: str              # "rgb565" | "grayscale" | "jpeg" (sensor output) | "to_jpeg"
    width: int
    height: int
    data: bytes            # raw pixels or JPEG; None once dropped (see RAW_KEPT)
    quality: int
    subsampling: int       # SOF0 luma sampling byte for JPEGs (0x21 = 4:2:2), else 0


def profile_part(profile, payload):
    """The part of a firmware profile the device asks for (bus "profile"): b"" -> firmware,
    MicroPython version, layout, the facts' values and which modules exist; b"module:NAME"
    -> that module's section (null: the firmware has no such module; {}: not described)."""
    key = bytes(payload).decode()
    if key.startswith("module:"):
        return json.dumps(profile["modules"].get(key[7:], {})).encode()
    return json.dumps({
        "firmware": profile["firmware"], "micropython": profile.get("micropython"),
        "layout": profile.get("layout"),
        "facts": {k: v.get("value") for k, v in profile.get("facts", {}).items()},
        "modules": {k: v is not None for k, v in profile["modules"].items()},
    }).encode()


def auto_subsampling(quality, profile=None):
    """The firmware encoder's choice for JPEG_SUBSAMPLING_AUTO (and, before 4.5.4, its only
    one): the profile's fact jpeg_auto_subsampling (quality <= 35: 4:2:0, < 60: 4:2:2, else
    4:4:4 on every version; source: imlib/jpeg.c, jpege.c jpeg_compress)."""
    rule = ((profile or {}).get("facts", {}).get("jpeg_auto_subsampling", {}).get("value")
            or {"420_up_to_quality": 35, "422_below_quality": 60})
    if quality <= rule["420_up_to_quality"]:
        return SUB_420
    if quality < rule["422_below_quality"]:
        return SUB_422
    return SUB_444


class CameraModel:
    """The sensor and codec of one emulated board."""

    RAW_KEPT = 8           # raw frames keep their pixels only for the newest few (1.8 MB each)
    FB_POOL_BYTES = FB_POOL_BYTES

    def __init__(self, firmware=(5, 0, 0), source="synthetic", fps=30.0, emit=None,
                 history=300, profile=None):
        # The firmware profile (a dict) or its version: the device's modules take their
        # shape from it (the board passes its own; tests may give just a version tuple).
        self.profile = profile or profiles.load("%d.%d.%d" % tuple(firmware))
        self.firmware = tuple(self.profile["firmware"])
        self.fps = float(fps)
        self.emit = emit or (lambda kind, text: None)
        self.capture_timeout = 0.0      # seconds a failing capture blocks (camera: 3 s)
        self.history = collections.deque(maxlen=history)
        self._raw = collections.deque()
        self._source = frames.open_source(source)
        self._lock = threading.RLock()
        self._errors = collections.deque()   # (message, delay) per failing capture
        self._shutdown = False
        self._config = None
        self._t0 = 0.0
        self._k = 0                 # sensor frames completed since the stream (re)started
        self._base = 0              # frame id of the stream start
        self._epoch = time.monotonic()  # scene time 0 (motion continues across restarts)
        self.last_frame_id = 0

    # ------------------------------------------------------------ host API

    def handlers(self):
        return {
            "profile": lambda p: profile_part(self.profile, p),
            "cam_info": self._info,
            "cam_reset": self._reset,
            "cam_shutdown": self._shutdown_op,
            "cam_snapshot": self._snapshot,
            "cam_skip": self._skip,
            "cam_ready": self._ready,
            "img_jpeg": self._img_jpeg,
            "img_encode": self._img_encode,
        }

    def inject_capture_errors(self, n, message=CAPTURE_TIMEOUT, delay=None, error="runtime"):
        """The next n captures raise RuntimeError(message) after `delay` seconds.
        error="value" or "type" makes them raise ValueError/TypeError instead: a firmware
        misbehaving in a way the app does not expect (for the crash-safety tests); a huge
        delay makes the capture hang (for the watchdog tests)."""
        with self._lock:
            for _ in range(n):
                self._errors.append((message, self.capture_timeout if delay is None else delay,
                                     error))
        self.emit("camera", "%d capture error(s) injected: %s" % (n, message))

    def set_fps(self, fps):
        with self._lock:
            self.fps = float(fps)
            self._restart(time.monotonic())

    def frames_of(self, kind=None):
        """History records, oldest first, optionally of one kind."""
        return [r for r in list(self.history) if kind is None or r.kind == kind]

    def find(self, frame_id, kind=None):
        for r in reversed(list(self.history)):
            if r.frame_id == frame_id and (kind is None or r.kind == kind):
                return r
        return None

    def close(self):
        self._source.close()

    # ------------------------------------------------------------ sensor clock

    def _restart(self, now):
        """The sensor (re)starts streaming: the first frame completes one period later."""
        self._base = self.last_frame_id
        self._t0 = now
        self._k = 0

    def _next_frame(self, blocking):
        """Wait for the next completed sensor frame.

        Returns (frame_id, wall-clock capture time, scene time) or None (not blocking and
        no frame completed since the last one). A slow reader gets the newest frame: the
        ones in between are dropped, as the camera's frame buffers do.
        """
        period = 1.0 / self.fps
        now = time.monotonic()
        k = int((now - self._t0) / period)
        if k <= self._k:
            if not blocking:
                return None
            k = self._k + 1
            time.sleep(max(0.0, self._t0 + k * period - now))
        self._k = k
        self.last_frame_id = self._base + k
        done = self._t0 + k * period
        return self.last_frame_id, time.time() - (time.monotonic() - done), done - self._epoch

    def _fail_if_needed(self):
        # The failing capture blocks without the model's lock: a hang belongs to the firmware
        # process that asked, not to the next one after a reset.
        error = "runtime"
        with self._lock:
            if self._shutdown:
                msg, delay = CAPTURE_TIMEOUT, self.capture_timeout
            elif self._errors:
                msg, delay, error = self._errors.popleft()
            else:
                return
        self.emit("camera", "capture error: " + msg)
        time.sleep(delay)
        raise {"runtime": BusError.runtime, "value": BusError.value,
               "type": lambda m: BusError(-3, m)}[error](msg)

    # ------------------------------------------------------------ bus handlers

    def _info(self, payload):
        return struct.pack("<BBBI", *self.firmware, FB_POOL_BYTES)

    def _reset(self, payload):
        with self._lock:
            self._shutdown = False
            self._config = None
            self._restart(time.monotonic())
        self.emit("camera", "sensor reset")

    def _shutdown_op(self, payload):
        on = bool(payload[0]) if payload else True
        with self._lock:
            self._shutdown = on
            if not on:
                self._restart(time.monotonic())
        self.emit("camera", "sensor shut down" if on else "sensor powered up")

    def _configure(self, fmt, w, h, quality):
        config = (fmt, w, h, quality)
        if config != self._config:
            if self._config is None or config[:3] != self._config[:3]:
                self._restart(time.monotonic())
            self._config = config
            self.emit("camera", "streaming %dx%d %s quality %d"
                      % (w, h, _FMT_NAMES.get(fmt, hex(fmt)), quality))

    def _snapshot(self, payload):
        fmt, w, h, quality, blocking = _SNAP.unpack_from(payload)
        self._fail_if_needed()
        with self._lock:
            self._configure(fmt, w, h, quality)
            got = self._next_frame(blocking)
            if got is None:
                return b""
            fid, t, scene_t = got
            rgb = self._source.frame(w, h, fid, scene_t)
            return self._deliver(fid, t, fmt, rgb, quality)

    def _ready(self, payload):
        # tail != head on the camera: a frame is waiting (only once snapshot() started it)
        with self._lock:
            if self._shutdown or self._config is None:
                return b"\x00"
            k = int((time.monotonic() - self._t0) / (1.0 / self.fps))
            return b"\x01" if k > self._k else b"\x00"

    def _deliver(self, fid, t, fmt, rgb, quality):
        h, w = rgb.shape[:2]
        if fmt == JPEG:
            # The OV5640's JPEG: baseline, standard tables, 4:2:2; quality 0..100 maps onto
            # the encoder's 1..100 (the sensor's QS register scale is linear in it too).
            q = min(100, max(1, quality))
            data = frames.encode_jpeg(rgb, q, frames.SUBSAMPLING_422)
            self._record(FrameRecord(fid, t, "jpeg", w, h, data, q, SUB_422))
        elif fmt == GRAYSCALE:
            data = frames.rgb_to_gray(rgb).tobytes()
            self._record(FrameRecord(fid, t, "grayscale", w, h, data, 0, 0))
        else:
            data = frames.rgb_to_rgb565(rgb)
            self._record(FrameRecord(fid, t, "rgb565", w, h, data, 0, 0))
        return data

    def _record(self, rec):
        self.history.append(rec)
        if rec.kind in ("rgb565", "grayscale"):
            self._raw.append(rec)
            while len(self._raw) > self.RAW_KEPT:
                self._raw.popleft().data = None

    def _skip(self, payload):
        fmt, w, h, quality, _, n, ms = _SKIP.unpack_from(payload)
        with self._lock:
            self._configure(fmt, w, h, quality)
        deadline = time.monotonic() + ms / 1000.0 if ms >= 0 else None
        if n < 0 and deadline is None:
            deadline = time.monotonic() + 0.3        # the firmware's default: 300 ms
        done = 0
        while (n < 0 or done < n) and (deadline is None or time.monotonic() < deadline):
            self._fail_if_needed()
            with self._lock:
                self._next_frame(True)
            done += 1

    # ------------------------------------------------------------ image codec

    def _pixels(self, payload):
        w, h, fmt, quality, mode, cap = _IMG.unpack_from(payload)
        data = memoryview(payload)[HDR:]
        if fmt == GRAYSCALE:
            pix = np.frombuffer(data, dtype=np.uint8, count=w * h).reshape(h, w)
        elif fmt == RGB565:
            pix = frames.rgb565_to_rgb(data, w, h)
        elif fmt == JPEG:
            pix = np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"))
        else:
            raise BusError.value("Image format is not supported.")
        return pix, fmt, quality, mode, cap

    def _img_jpeg(self, payload):
        pix, fmt, quality, sub, cap = self._pixels(payload)
        if pix.ndim == 2:
            sub = SUB_444
        elif sub == SUB_AUTO:
            sub = auto_subsampling(quality, self.profile)
        elif sub not in (SUB_444, SUB_422, SUB_420):
            raise BusError.value("Invalid JPEG subsampling")
        data = frames.encode_jpeg(pix, quality, sub)
        if len(data) > JPEG_MAX:
            raise BusError.runtime("Compression Failed!")
        if len(data) > cap:
            raise BusError.runtime("The image doesn't fit in the frame buffer!")
        fid = self.last_frame_id
        self._record(FrameRecord(fid, time.time(), "to_jpeg", pix.shape[1], pix.shape[0],
                                 data, quality, sub))
        return data

    def _img_encode(self, payload):
        pix, fmt, quality, kind, _ = self._pixels(payload)
        if kind == 1:
            if fmt == JPEG:
                return bytes(memoryview(payload)[HDR:])
            sub = SUB_444 if pix.ndim == 2 else auto_subsampling(quality, self.profile)
            return frames.encode_jpeg(pix, quality, sub)
        out = io.BytesIO()
        Image.fromarray(pix).save(out, {2: "BMP", 3: "PPM", 4: "PNG"}[kind])
        return out.getvalue()
