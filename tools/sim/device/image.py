# Emulated OpenMV `image` module: the Image class of the camera firmware (RGB565, GRAYSCALE
# and JPEG images), with the firmware's semantics where the application depends on them:
# - draw_string takes (x, y, text) up to 4.8 and ((x, y), text) from 5.0 (the profile's
#   "positional" form); the other form fails as it does on the camera (4.x: ValueError,
#   5.0: TypeError);
# - drawing on a JPEG image raises ValueError; to_jpeg()/compress() convert in place, in the
#   image's own (frame) buffer, and JPEG_SUBSAMPLING_AUTO picks 4:4:4 from quality 60;
# - up to 4.5.3 there is no `subsampling` keyword nor JPEG_SUBSAMPLING_* constant: to_jpeg
#   reads its keywords one by one (py_helper_keyword_*), so subsampling= is ignored there and
#   the encoder picks by quality alone, the same rule as AUTO (4:4:4 from quality 60).
#   source: src/omv/modules/py_image.c py_image_to and src/omv/imlib/jpeg.c jpeg_compress
#   @v4.5.2; modules/py_image.c py_image_to (allowed_args) and lib/imlib/jpege.c
#   jpeg_compress @v4.7.0 / @v5.0.0;
# - bytearray() and memoryview(img) are views of the buffer, no copy.
# Image subclasses memoryview so that the buffer protocol (memoryview(img), sock.write(img))
# works like the firmware's; drawing goes through a framebuf.FrameBuffer over the same bytes
# (its 8x8 font drawn in OpenMV's 8x10 cell). JPEG encoding runs on the host, over the bus:
# the pixels go out of the buffer and the JPEG comes back into it.
import framebuf as _framebuf
import struct as _struct
import uctypes as _uctypes
import _profile

BINARY = 0x08010000       # OpenMV's pixformat values
GRAYSCALE = 0x08020001
RGB565 = 0x0C030002
BAYER = 0x05040001
YUV422 = 0x14050002
JPEG = 0x06060000

JPEG_SUBSAMPLING_AUTO = 0
JPEG_SUBSAMPLING_444 = 0x11
JPEG_SUBSAMPLING_422 = 0x21
JPEG_SUBSAMPLING_420 = 0x22

_HDR = HDR = 16           # spare bytes before the pixels: the bus request header goes there
_IMG = "<HHIBBI"          # w, h, pixformat, quality, subsampling or file kind, capacity
_KIND = {".jpg": 1, ".jpeg": 1, ".bmp": 2, ".ppm": 3, ".png": 4}

_board = None
_glyph = bytearray(8)     # one 8x8 glyph, for scaled text
_gfb = _framebuf.FrameBuffer(_glyph, 8, 8, _framebuf.MONO_HLSB)


def _info():
    """(major, minor, patch, frame buffer pool bytes) of the emulated board, asked once."""
    global _board
    if _board is None:
        import _bus
        _board = _struct.unpack("<BBBI", _bus.call("cam_info"))
    return _board


def _v5():
    return _info()[0] >= 5


_NO = object()            # "keyword not given"
_AUTO = 0                 # JPEG_SUBSAMPLING_AUTO (the constant itself may be gated away)
_SUB_OK, _SUB_REFUSED, _SUB_IGNORED = 0, 1, 2
_sub = _SUB_OK            # what to_jpeg does with subsampling= on this firmware
_point = None             # draw_string((x, y), text)? None: by version (no profile)
_save_kw = None           # save(path, *, roi, quality)? None: by version (no profile)


def _point_text():
    return _v5() if _point is None else _point


def _bpp(fmt):
    if fmt == RGB565:
        return 2
    if fmt == GRAYSCALE:
        return 1
    raise ValueError("Image format is not supported.")


class Image(memoryview):
    """Image(width, height, pixformat) makes a blank image; Image(path) loads a JPEG file."""

    def __init__(self, arg, height=None, pixformat=None, _raw=None, _size=None):
        if isinstance(arg, str):
            data = _read(arg)
            arg, height = _jpeg_size(data)
            pixformat, _size = JPEG, len(data)
            _raw = memoryview(bytearray(_HDR + _size))
            _raw[_HDR:] = data
        elif pixformat == JPEG:
            if _raw is None:
                raise ValueError("emulator: JPEG images come from snapshot, to_jpeg or a file")
        else:
            _size = arg * height * _bpp(pixformat)
            if _raw is None:
                _raw = memoryview(bytearray(_HDR + _size))
        self._raw = _raw
        self._data = _raw[_HDR:]
        self._w = arg
        self._h = height
        self._fmt = pixformat
        self._mfmt = pixformat      # the format of the pixels when not compressed
        self._size = _size
        self._fb = None
        super().__init__(self._data[:_size])

    def _set(self, fmt, size):
        # A frame arrived in this buffer (or it was compressed): expose its bytes.
        if fmt != self._fmt or size != self._size:
            self._fmt = fmt
            self._size = size
            super().__init__(self._data[:size])

    def _canvas(self):
        # The drawing surface over the pixels; a buffer keeps its pixel format (the frame
        # buffers are rebuilt when the sensor's format changes), so it is made once.
        if self._fmt == JPEG:
            raise ValueError("Expected a mutable image")
        if self._fb is None:
            mode = _framebuf.RGB565 if self._mfmt == RGB565 else _framebuf.GS8
            self._fb = _framebuf.FrameBuffer(self._data, self._w, self._h, mode)
        return self._fb

    def _color(self, color):
        if color is None:
            color = -1                                   # OpenMV's default: white
        if isinstance(color, int):
            return color & (0xFFFF if self._fmt == RGB565 else 0xFF)
        r, g, b = color
        r = min(255, max(0, r))
        g = min(255, max(0, g))
        b = min(255, max(0, b))
        if self._fmt == RGB565:
            return ((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)
        return (r * 77 + g * 150 + b * 29) >> 8

    # ---- information

    def width(self):
        return self._w

    def height(self):
        return self._h

    def format(self):
        return self._fmt

    def size(self):
        return self._size

    def __len__(self):
        return self._size if self._fmt == JPEG else self._h

    def bytearray(self):
        return _uctypes.bytearray_at(_uctypes.addressof(self._data), self._size)

    # ---- drawing

    def draw_string(self, a, b=None, c=None, color=None, scale=1.0, x_spacing=0,
                    y_spacing=0, mono_space=True, char_rotation=0, char_hmirror=False,
                    char_vflip=False, string_rotation=0, string_hmirror=False,
                    string_vflip=False):
        fb = self._canvas()
        if _point_text():
            # 5.0: draw_string((x, y), text, color, scale, ...)
            if not isinstance(a, (tuple, list)):
                raise TypeError("object '%s' isn't a tuple or list" % type(a).__name__)
            if len(a) != 2:
                raise ValueError("requested length 2 but object has length %d" % len(a))
            if c is not None:
                color, scale = c, (1.0 if color is None else color)
            x, y = a
            text = b
        elif isinstance(a, (tuple, list)):
            # 4.x: draw_string((x, y, text), color, scale, ...)
            if len(a) != 3:
                raise ValueError("requested length 3 but object has length %d" % len(a))
            if b is not None:
                color, scale = b, (1.0 if c is None else c)
            x, y, text = a
        else:
            if c is None:
                raise OSError("Not enough positional arguments!")
            x, y, text = a, b, c
        if not isinstance(text, str):
            raise TypeError("can't convert %s to str" % type(text).__name__)
        if scale is None:
            scale = 1.0
        if scale <= 0:
            raise OSError("Error: 0 < scale!")
        if (not mono_space or char_rotation or char_hmirror or char_vflip or string_rotation
                or string_hmirror or string_vflip):
            raise NotImplementedError("emulator: draw_string supports scale and spacing only")
        _text(fb, int(x), int(y), text, self._color(color), int(scale * 256), x_spacing,
              y_spacing)
        return self

    def draw_rectangle(self, r, *args, color=None, thickness=1, fill=False):
        fb = self._canvas()
        if isinstance(r, (tuple, list)):
            if len(r) < 4:
                raise ValueError("requested length 4 but object has length %d" % len(r))
            x, y, w, h = r[0], r[1], r[2], r[3]
            rest = args
        elif _v5():
            raise TypeError("object '%s' isn't a tuple or list" % type(r).__name__)
        else:
            if len(args) < 3:
                raise OSError("Not enough positional arguments!")
            x, y, w, h = r, args[0], args[1], args[2]
            rest = args[3:]
        if len(rest) > 0:
            color = rest[0]
        if len(rest) > 1:
            thickness = rest[1]
        if len(rest) > 2:
            fill = rest[2]
        c = self._color(color)
        if fill:
            fb.fill_rect(x, y, w, h, c)
        elif thickness > 0:
            # The firmware centres the border on the rectangle's edge.
            t0 = thickness // 2
            t = t0 + (thickness - 1) // 2 + 1
            fb.fill_rect(x - t0, y - t0, w + t - 1, t, c)
            fb.fill_rect(x - t0, y + h - 1 - t0, w + t - 1, t, c)
            fb.fill_rect(x - t0, y - t0, t, h + t - 1, c)
            fb.fill_rect(x + w - 1 - t0, y - t0, t, h + t - 1, c)
        return self

    def clear(self):
        self._canvas().fill(0)
        return self

    def get_pixel(self, x, y):
        fb = self._canvas()
        if x < 0 or y < 0 or x >= self._w or y >= self._h:
            return None
        v = fb.pixel(x, y)
        if self._fmt != RGB565:
            return v
        r = (v >> 11) & 0x1F
        g = (v >> 5) & 0x3F
        b = v & 0x1F
        return ((r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2))

    def set_pixel(self, x, y, color=None):
        self._canvas().pixel(x, y, self._color(color))
        return self

    # ---- compression and files

    def to_jpeg(self, *, quality=90, subsampling=_NO, copy=False):
        if subsampling is _NO or _sub == _SUB_IGNORED:
            subsampling = _AUTO
        elif _sub == _SUB_REFUSED:
            raise _profile.unexpected("subsampling")
        if quality < 1 or quality > 100:
            raise ValueError("Quality ranges between 0 and 100")
        if self._fmt == JPEG:
            return _copy(self) if copy else self
        _bpp(self._fmt)
        if copy:
            return _copy(self, _host("img_jpeg", self, quality, subsampling, 1 << 20))
        _struct.pack_into(_IMG, self._raw, 0, self._w, self._h, self._fmt, quality,
                         subsampling, len(self._data))
        import _bus
        try:
            n = _bus.call_into("img_jpeg", self._raw, self._data, _HDR + self._size)
        except RuntimeError as e:
            raise OSError(e.args[0])
        self._set(JPEG, n)
        return self

    compress = to_jpeg

    def save(self, path, *args, roi=None, quality=50):
        if args:
            if _v5() if _save_kw is None else _save_kw:
                raise TypeError("function takes 2 positional arguments but %d were given"
                                % (2 + len(args)))
            roi = args[0]
            if len(args) > 1:
                quality = args[1]
        if roi is not None:
            raise NotImplementedError("emulator: save(roi=) is not supported")
        if quality < 1 or quality > 100:
            raise OSError("Error: 1 <= quality <= 100!")
        kind = _kind(path, self._fmt)
        if kind == 0:
            path += ".jpg" if self._fmt == JPEG else ".bmp"
            kind = 1 if self._fmt == JPEG else 2
        if kind == 1 and self._fmt == JPEG:
            data = self._data[:self._size]
        else:
            data = _host("img_encode", self, quality, kind, 0)
        with open(path, "wb") as f:
            f.write(data)
        return self


def _kind(path, fmt):
    dot = path.rfind(".")
    kind = _KIND.get(path[dot:].lower(), 0) if dot > path.rfind("/") else 0
    if kind == 2 and fmt == JPEG:
        raise OSError("Image is not BMP!")
    if kind == 3 and fmt != RGB565:
        raise OSError("Image is not PPM!")
    return kind


def _host(op, img, quality, mode, cap):
    # Off the hot path (save, copy=True): build the request in a fresh buffer.
    import _bus
    req = bytearray(_HDR + img._size)
    _struct.pack_into(_IMG, req, 0, img._w, img._h, img._fmt, quality, mode, cap)
    req[_HDR:] = img._data[:img._size]     # slice assignment wants a plain memoryview
    try:
        return _bus.call(op, req)
    except RuntimeError as e:
        raise OSError(e.args[0])


def _copy(img, data=None):
    # A JPEG copy on the GC heap (to_jpeg(copy=True)), as the firmware's image_alloc.
    if data is None:
        data = img._data[:img._size]
    raw = memoryview(bytearray(_HDR + len(data)))
    raw[_HDR:] = data
    return Image(img._w, img._h, JPEG, raw, len(data))


def _read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\xff\xd8":
        raise OSError("emulator: only JPEG files can be loaded")
    return data


def _jpeg_size(data):
    i = 2
    while i + 9 < len(data):
        marker, n = data[i + 1], (data[i + 2] << 8) | data[i + 3]
        if 0xC0 <= marker <= 0xC2:
            return (data[i + 7] << 8) | data[i + 8], (data[i + 5] << 8) | data[i + 6]
        i += 2 + n
    raise OSError("JPEG without a frame header")


def _text(fb, x0, y0, text, c, s, xsp, ysp):
    # OpenMV's layout: cells of floor(8*scale) x floor(10*scale) pixels; "\n", "\r" and
    # "\r\n" start a new line at x0; characters outside 32..126 are skipped. s = scale*256.
    cw = (8 * s) >> 8
    ch = (10 * s) >> 8
    x = x0
    y = y0
    last = 0
    for char in text:
        o = ord(char)
        if o == 10 or o == 13:
            if not (last == 13 and o == 10):
                x = x0
                y += ch + ysp
            last = o
            continue
        last = o
        if o < 32 or o > 126:
            continue
        if s == 256:
            fb.text(char, x, y + 1, c)         # 8x8 glyph, one blank row above and below
        else:
            _glyph_scaled(fb, char, x, y, c, s, cw, ch)
        x += cw + xsp


def _glyph_scaled(fb, char, x0, y0, c, s, cw, ch):
    # Source pixel (col, row) of the 8x10 cell covers the destination pixels whose
    # floor(d / scale) is that pixel, i.e. from ceil(col * scale) to ceil((col + 1) * scale).
    _gfb.fill(0)
    _gfb.text(char, 0, 0, 1)
    for r in range(8):
        bits = _glyph[r]
        if not bits:
            continue
        ya = ((r + 1) * s + 255) >> 8
        yb = min(ch, ((r + 2) * s + 255) >> 8)
        if yb <= ya:
            continue
        col = 0
        while col < 8:
            if bits & (0x80 >> col):
                start = col
                while col < 8 and bits & (0x80 >> col):
                    col += 1
                xa = (start * s + 255) >> 8
                xb = min(cw, (col * s + 255) >> 8)
                if xb > xa:
                    fb.fill_rect(x0 + xa, y0 + ya, xb - xa, yb - ya, c)
            else:
                col += 1


def _shape():
    # The firmware's names, constants and Image methods; how to_jpeg and draw_string take
    # their arguments there (see the top of this file).
    global _sub, _point, _save_kw
    spec = _profile.gate(globals(), "image")
    methods = spec.get("classes", {}).get("Image", {}).get("methods", {})
    form = methods.get("draw_string", {}).get("positional")
    if form:
        _point = form.startswith("(")
    if "save" in methods:       # 5.0: roi and quality keyword-only (allowed_args KW_ONLY)
        _save_kw = "roi" in methods["save"].get("kw_only", ())
    sig = methods.get("to_jpeg", {})
    if "subsampling" not in sig.get("kwargs", ("subsampling",)):
        _sub = _SUB_IGNORED if sig.get("ignores_unknown_kwargs") else _SUB_REFUSED
    _profile.forget("image")


_shape()
