# Frame buffers and the capture path, shared by the emulated `csi` and `sensor` (one sensor).
# On the camera, frame buffers live in a reserved SDRAM area outside the GC heap. Here that
# area is one bytearray allocated once, before the app's heap (_heap.carve): the emulator's
# MicroPython heap has room for it beside the app's, which stays camera-sized.
# Like the firmware, the pool is cut into equal buffers of width * height * 2 bytes (any
# pixel format), three if they fit, else two, else one; each buffer gets image._HDR spare
# bytes in front so it can go to the host as one bus request (to_jpeg).
# Capture allocates nothing per frame here beyond the bus's own reply header: every buffer
# has one Image object, reused each time the buffer comes round.
# The other end of the pool is fb_alloc's stack, growing down: sensor.alloc_extra_fb() takes
# its images from there (source: src/omv/alloc/fb_alloc.c fb_alloc, src/omv/imlib/
# framebuffer.c framebuffer_raw_buffer_size @v4.5.2), so frame buffers laid out later get
# only what is left between the start of the pool and that stack.
# The pool is 6 MB on every firmware: smaller than the real one (OMV_FB_SIZE: 10 MB 4.5.0-4.5.2,
# 20 MB 4.5.3-4.5.5, 13 MB 4.5.6-4.8.x; profile fact framebuffer_pool), so the app sees less
# frame-buffer memory than on the camera, never more.
import struct
import _bus
import image
from image import GRAYSCALE, RGB565, JPEG

FB_POOL_BYTES = 6291456          # must equal tools/sim/camera.py FB_POOL_BYTES
pool = None          # the pool, allocated by reserve() (_heap.carve: before the app's heap)
_pool = None


def reserve():
    global pool, _pool
    if pool is None:
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

E_FB_ALLOC = "Out of fast frame buffer stack memory"

_pixformat = 0
_framesize = 0
_slot = 0            # bytes per frame buffer (with its _HDR)
_top = FB_POOL_BYTES  # fb_alloc's stack pointer (offset in the pool): extra images below it
_extra = []          # [offset before, Image] per alloc_extra_fb, newest last
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
    reserve()           # already done at boot; here for the device tests without _sim_boot
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
    # The room is up to fb_alloc's stack (framebuffer.c framebuffer_raw_buffer_size @v4.5.2).
    global _images, _next, _slot
    _images = []
    _next = 0
    if n == 0 or not _pixformat or not _framesize:
        return
    w, h = SIZES[_framesize]
    slot = _slot = (image._HDR + w * h * 2 + 31) & ~31
    if n < 0:
        n = min(3, _top // slot)
    if n < 1 or n * slot > _top:
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


# -- fb_alloc: extra frame buffers (sensor.alloc_extra_fb / dealloc_extra_fb, all 4.x) --------

def _size(w, h, fmt):
    # imlib image_size(): bytes of the pixels (source: src/omv/imlib/imlib.c image_size @v4.5.2)
    if fmt == GRAYSCALE:
        return w * h
    if fmt == RGB565:
        return w * h * 2
    raise NotImplementedError("emulator: alloc_extra_fb of this pixel format is not modelled")


def alloc_extra_fb(w, h, fmt):
    """An image whose pixels are in the frame-buffer pool, below fb_alloc's stack pointer,
    zeroed; stays until dealloc_extra_fb() or a soft reset. bytearray() of it is a view of
    that memory, outside the GC heap.
    source: src/omv/modules/py_sensor.c py_sensor_alloc_extra_fb (PY_ASSERT_TRUE_MSG ->
    OSError; fb_alloc_mark + fb_alloc0(image_size, FB_ALLOC_NO_HINT) + fb_alloc_mark_permanent)
    and src/omv/alloc/fb_alloc.c fb_alloc (size rounded up to 4, a 4-byte size word below it,
    MemoryError when it would reach the frame buffers' end) @v4.5.2"""
    global _top
    if w <= 0:
        raise OSError("Width must be > 0")
    if h <= 0:
        raise OSError("Height must be > 0")
    if fmt not in (GRAYSCALE, RGB565, JPEG, image.BINARY, image.BAYER, image.YUV422):
        raise OSError("Invalid Pixel Format")
    n = (_size(w, h, fmt) + 3) & ~3
    # the mark (4 bytes), the size word (4), the pixels; our Image needs _HDR bytes in front
    start = _top - 4 - 4 - n - image._HDR
    start &= ~3
    if start < len(_images) * _slot:
        raise MemoryError(E_FB_ALLOC)
    raw = _pool[start:_top - 8]
    z = bytes(1024)                     # fb_alloc0 zeroes; no n-byte temporary in the heap
    for i in range(image._HDR, image._HDR + n, 1024):
        k = min(1024, image._HDR + n - i)
        raw[i:i + k] = z[:k] if k < 1024 else z
    img = image.Image(w, h, fmt, raw)
    _extra.append([_top, img])
    _top = start
    return img


def dealloc_extra_fb():
    """Frees the newest extra frame buffer (fb_alloc_free_till_mark_past_mark_permanent: the
    stack down to its mark); nothing to free: no error.
    source: src/omv/modules/py_sensor.c py_sensor_dealloc_extra_fb @v4.5.2"""
    global _top
    if _extra:
        _top = _extra.pop()[0]


def frame_available():
    """A frame has been captured and not yet taken by snapshot() (framebuffer->tail !=
    framebuffer->head). source: src/omv/modules/py_sensor.c py_sensor_get_frame_available
    @v4.5.2 (modules/py_csi.c @v4.7.0). Nothing captured yet (no snapshot since the sensor
    was set up): False, as the camera only streams once snapshot() started it."""
    if not _pixformat or not _framesize or not _images:
        return False
    w, h = SIZES[_framesize]
    struct.pack_into("<IHHBB", _req, 0, _pixformat, w, h, _quality, 0)
    return _bus.call_into("cam_ready", _req, _avail, 10) == 1 and _avail[0] == 1


_avail = bytearray(1)
