# Frame buffers and the capture path, shared by the emulated `csi` and `sensor` (one sensor).
# On the camera, frame buffers live in a reserved SDRAM area outside the GC heap. Here that
# area is one bytearray allocated once, at import: the emulator starts MicroPython with
# heap = 8 MB + FB_POOL_BYTES, so the application still sees a camera-sized GC heap.
# Like the firmware, the pool is cut into equal buffers of width * height * 2 bytes (any
# pixel format), three if they fit, else two, else one; each buffer gets image._HDR spare
# bytes in front so it can go to the host as one bus request (to_jpeg).
# Capture allocates nothing per frame here beyond the bus's own reply header: every buffer
# has one Image object, reused each time the buffer comes round.
import struct
import _bus
import image
from image import GRAYSCALE, RGB565, JPEG

FB_POOL_BYTES = 6291456          # must equal tools/sim/camera.py FB_POOL_BYTES
pool = bytearray(FB_POOL_BYTES)
_pool = memoryview(pool)

# Frame sizes by name. Their constant values differ between versions (4.8 added CUSTOM = 1,
# which moved every later size up by one: source common/omv_csi.h omv_csi_framesize_t
# @v4.8.1 vs @v4.7.0); the modules export 5.0's numbering and the profile's values replace
# it (_profile.shape), then learn_sizes() maps the values the app sees to dimensions.
_NAMES = ("INVALID", "CUSTOM", "QQCIF", "QCIF", "CIF", "QQSIF", "QSIF", "SIF", "QQQQVGA",
          "QQQVGA", "QQVGA", "QVGA", "VGA", "HQQQQVGA", "HQQQVGA", "HQQVGA", "HQVGA", "HVGA",
          "B64X32", "B64X64", "B128X64", "B128X128", "B160X160", "B320X320", "LCD", "QQVGA2",
          "WVGA", "WVGA2", "SVGA", "XGA", "WXGA", "SXGA", "SXGAM", "UXGA", "HD", "FHD", "QHD",
          "QXGA", "WQXGA", "WQXGA2")
_DIMS = ((0, 0), (0, 0), (88, 72), (176, 144), (352, 288), (88, 60), (176, 120), (352, 240),
         (40, 30), (80, 60), (160, 120), (320, 240), (640, 480), (30, 20), (60, 40),
         (120, 80), (240, 160), (480, 320), (64, 32), (64, 64), (128, 64), (128, 128),
         (160, 160), (320, 320), (128, 160), (128, 160), (720, 480), (752, 480), (800, 600),
         (1024, 768), (1280, 768), (1280, 1024), (1280, 960), (1600, 1200), (1280, 720),
         (1920, 1080), (2560, 1440), (2048, 1536), (2560, 1600), (2592, 1944))
SIZES = {}           # framesize constant value -> (width, height)

E_FRAMESIZE = "Frame size is not supported or is not set."
E_PIXFORMAT = "Pixel format is not supported or is not set."
E_ARG = "An invalid argument is used."
E_OVERFLOW = "Frame buffer overflow, try reducing the frame size."

_pixformat = 0
_framesize = 0
_quality = 90
_images = []         # one Image per frame buffer
_next = 0
_req = bytearray(20)      # <IHHBBxx ii>: pixformat, w, h, quality, blocking | frames, ms


def export(ns):
    """Put the pixformat and framesize constants into a module's namespace."""
    for i in range(2, len(_NAMES)):
        ns[_NAMES[i]] = i
    ns["GRAYSCALE"] = GRAYSCALE
    ns["RGB565"] = RGB565
    ns["JPEG"] = JPEG
    ns["BINARY"] = image.BINARY
    ns["BAYER"] = image.BAYER
    ns["YUV422"] = image.YUV422


def learn_sizes(ns):
    """Map the framesize values of a (profile-shaped) module namespace to their dimensions."""
    for i in range(2, len(_NAMES)):
        v = ns.get(_NAMES[i])
        if isinstance(v, int):
            SIZES[v] = _DIMS[i]


def check_pool():
    # The host sizes MicroPython's heap from its own constant: they must agree.
    host = image._info()[3]
    if host != FB_POOL_BYTES:
        raise RuntimeError("emulator: frame buffer pool %d != host's %d" % (FB_POOL_BYTES, host))


def reset():
    global _pixformat, _framesize, _quality
    _bus.call("cam_reset")
    _pixformat = 0
    _framesize = 0
    _quality = 90
    _layout(0)


def set_pixformat(fmt):
    global _pixformat
    if fmt not in (RGB565, GRAYSCALE, JPEG):
        raise RuntimeError(E_PIXFORMAT)
    _pixformat = fmt
    _layout(-1)


def get_pixformat():
    if not _pixformat:
        raise RuntimeError(E_PIXFORMAT)
    return _pixformat


def set_framesize(fs):
    global _framesize
    if fs not in SIZES:
        raise RuntimeError(E_FRAMESIZE)
    _framesize = fs
    _layout(-1)


def get_framesize():
    if not _framesize:
        raise RuntimeError(E_FRAMESIZE)
    return _framesize


def set_quality(q):
    global _quality
    if q < 0 or q > 100:
        raise OSError("Operation not supported")
    _quality = q


def width():
    return SIZES[_framesize][0]


def height():
    return SIZES[_framesize][1]


def set_framebuffers(n):
    if n < 1:
        raise RuntimeError(E_ARG)
    if n != len(_images):
        _layout(n)


def get_framebuffers():
    return len(_images)


def _layout(n):
    # (Re)cut the pool: n buffers, or -1 = as many as fit up to three, or 0 = none yet.
    global _images, _next
    _images = []
    _next = 0
    if n == 0 or not _pixformat or not _framesize:
        return
    w, h = SIZES[_framesize]
    slot = (image._HDR + w * h * 2 + 31) & ~31
    if n < 0:
        n = min(3, FB_POOL_BYTES // slot)
    if n < 1 or n * slot > FB_POOL_BYTES:
        raise RuntimeError(E_OVERFLOW)
    fmt = GRAYSCALE if _pixformat == GRAYSCALE else RGB565
    for i in range(n):
        _images.append(image.Image(w, h, fmt, _pool[i * slot:(i + 1) * slot]))


def _ready():
    if not _pixformat:
        raise RuntimeError(E_PIXFORMAT)
    if not _framesize:
        raise RuntimeError(E_FRAMESIZE)
    if not _images:
        _layout(-1)


def snapshot(blocking=True):
    """The next frame in the next frame buffer; None if not blocking and none is ready."""
    global _next
    _ready()
    img = _images[_next]
    w, h = SIZES[_framesize]
    struct.pack_into("<IHHBB", _req, 0, _pixformat, w, h, _quality, 1 if blocking else 0)
    n = _bus.call_into("cam_snapshot", _req, img._data, 10)
    if n == 0:
        return None
    img._set(JPEG if _pixformat == JPEG else img._mfmt, n)
    _next += 1
    if _next == len(_images):
        _next = 0
    return img


def skip(frames=-1, ms=-1):
    """Let sensor frames pass: `frames` of them and/or for `ms` (both -1: 300 ms)."""
    _ready()
    w, h = SIZES[_framesize]
    struct.pack_into("<IHHBBxxii", _req, 0, _pixformat, w, h, _quality, 1, frames, ms)
    _bus.call("cam_skip", _req, 20)


def shutdown(on):
    _bus.call("cam_shutdown", b"\x01" if on else b"\x00")
