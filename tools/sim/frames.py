"""What the emulated sensor sees, and how it hands pictures over.

A frame source renders the scene as an RGB888 numpy array (height, width, 3) of the size the
firmware asked for. Sources, by spec string:
  "synthetic"        (default) a moving test scene; every frame carries its frame id as a
                     row of black/white blocks at the top left (see read_frame_id), so a test
                     can tell which sensor frame a client decoded
  "photo[:NAME]"     a real photograph slowly panned and zoomed, with sensor noise: JPEGs as
                     big as a real camera's (NAME: china (default) or flower, scikit-learn's
                     sample images, read from the installed package); frame ids stamped too
  "file:PATH"        a video or still image read with PyAV, looped
  "v4l2:/dev/videoN" a webcam read with PyAV in a background thread (newest picture wins)

The helpers below turn a picture into what the firmware receives: RGB565 as OpenMV keeps it
in memory (native little-endian uint16), or a JPEG laid out like the camera's own output
(baseline, standard Annex K Huffman tables, both quantisation tables in one DQT segment,
one DHT segment, no restart markers; see normalize_jpeg).
"""
import importlib.util
import io
import math
import os
import threading

import numpy as np
from PIL import Image, ImageChops, ImageFilter

SUBSAMPLING_444 = 0x11   # the SOF0 sampling byte of the luma component, as OpenMV names them
SUBSAMPLING_422 = 0x21
SUBSAMPLING_420 = 0x22
_PIL_SUBSAMPLING = {SUBSAMPLING_444: 0, SUBSAMPLING_422: 1, SUBSAMPLING_420: 2}

ID_BITS = 16


# ---------------------------------------------------------------- pixel formats

def rgb_to_rgb565(rgb):
    """RGB888 array -> RGB565 bytes (little-endian uint16 per pixel)."""
    r = rgb[..., 0].astype(np.uint16)
    g = rgb[..., 1].astype(np.uint16)
    b = rgb[..., 2].astype(np.uint16)
    v = ((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)
    return v.astype("<u2").tobytes()


def rgb565_to_rgb(data, width, height):
    """RGB565 bytes (little-endian) -> RGB888 array, low bits filled by bit replication."""
    v = np.frombuffer(data, dtype="<u2", count=width * height).reshape(height, width)
    r = (v >> 11) & 0x1F
    g = (v >> 5) & 0x3F
    b = v & 0x1F
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[..., 0] = (r << 3) | (r >> 2)
    out[..., 1] = (g << 2) | (g >> 4)
    out[..., 2] = (b << 3) | (b >> 2)
    return out


def rgb_to_gray(rgb):
    """Luma as OpenMV computes it for grayscale frames (integer BT.601 weights)."""
    r = rgb[..., 0].astype(np.uint32)
    g = rgb[..., 1].astype(np.uint32)
    b = rgb[..., 2].astype(np.uint32)
    return ((r * 77 + g * 150 + b * 29) >> 8).astype(np.uint8)


# ---------------------------------------------------------------- JPEG

def encode_jpeg(pixels, quality, subsampling=SUBSAMPLING_422):
    """Encode an RGB888 (h, w, 3) or grayscale (h, w) array like the camera does."""
    img = Image.fromarray(pixels)
    out = io.BytesIO()
    if pixels.ndim == 2:
        img.save(out, "JPEG", quality=quality, optimize=False)
    else:
        img.save(out, "JPEG", quality=quality, optimize=False,
                 subsampling=_PIL_SUBSAMPLING[subsampling])
    return normalize_jpeg(out.getvalue())


# The JPEG standard's example Huffman tables (ITU T.81 Annex K.3): what RFC 2435 receivers
# rebuild, so every frame must use exactly these. (class/id, 16 code counts, symbols)
def _k(counts, symbols):
    return bytes(counts), bytes(symbols)


_AC_LUMA_SYMBOLS = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a16171819"
    "1a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a7374757677"
    "78797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
    "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa")
_AC_CHROMA_SYMBOLS = bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f1"
    "1718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a73747576"
    "7778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa")
STANDARD_DHT = {
    0x00: _k([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], range(12)),
    0x10: _k([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D], _AC_LUMA_SYMBOLS),
    0x01: _k([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], range(12)),
    0x11: _k([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], _AC_CHROMA_SYMBOLS),
}

# JFIF 1.01, no units, 1:1 density, no thumbnail: the APP0 segment OpenMV's encoder writes.
_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def jpeg_segments(data):
    """Split a JPEG into [(marker, payload)] up to and including SOS, plus the scan bytes."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG (no SOI)")
    segs, i = [], 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("bad JPEG marker at %d" % i)
        marker = data[i + 1]
        if marker == 0xFF:          # fill byte
            i += 1
            continue
        n = int.from_bytes(data[i + 2:i + 4], "big")
        segs.append((marker, bytes(data[i + 4:i + 2 + n])))
        i += 2 + n
        if marker == 0xDA:
            return segs, bytes(data[i:])
    raise ValueError("JPEG has no scan")


def normalize_jpeg(data):
    """Rewrite an encoder's JPEG into the camera's layout (same entropy-coded data).

    Raises ValueError if the input cannot be carried as the camera's JPEG (not baseline,
    non-standard Huffman tables, restart markers, 16-bit quantisation tables).
    """
    segs, scan = jpeg_segments(data)
    dqt, dht, sof, sos = {}, {}, None, None
    for marker, body in segs:
        if marker == 0xDB:
            j = 0
            while j < len(body):
                if body[j] >> 4:
                    raise ValueError("16-bit quantisation table")
                dqt[body[j] & 15] = body[j + 1:j + 65]
                j += 65
        elif marker == 0xC4:
            j = 0
            while j < len(body):
                tc_th, counts = body[j], body[j + 1:j + 17]
                n = sum(counts)
                dht[tc_th] = (counts, body[j + 17:j + 17 + n])
                j += 17 + n
        elif marker == 0xC0:
            sof = body
        elif marker in (0xC1, 0xC2, 0xC3) or 0xC5 <= marker <= 0xCF and marker != 0xC8:
            raise ValueError("not a baseline JPEG (SOF%d)" % (marker - 0xC0))
        elif marker == 0xDD:
            raise ValueError("restart markers are not allowed")
        elif marker == 0xDA:
            sos = body
    if sof is None or sos is None:
        raise ValueError("JPEG without SOF0 or SOS")
    for key, table in dht.items():
        if STANDARD_DHT.get(key) != table:
            raise ValueError("non-standard Huffman table %02x" % key)
    out = bytearray(b"\xff\xd8" + _APP0)
    out += _segment(0xDB, b"".join(bytes([k]) + dqt[k] for k in sorted(dqt)))
    out += _segment(0xC0, sof)
    keys = [0x00, 0x10, 0x01, 0x11] if len(dqt) > 1 else [0x00, 0x10]
    out += _segment(0xC4, b"".join(bytes([k]) + STANDARD_DHT[k][0] + STANDARD_DHT[k][1]
                                   for k in keys))
    out += _segment(0xDA, sos)
    out += scan
    return bytes(out)


def _segment(marker, body):
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


# ---------------------------------------------------------------- frame ids in the picture

def _id_block(width, height):
    return max(4, min(width, height) // 45)


def stamp_frame_id(rgb, frame_id):
    """Draw the low ID_BITS bits of frame_id as blocks (white = 1), LSB first, top left."""
    b = _id_block(rgb.shape[1], rgb.shape[0])
    rgb[0:3 * b, 0:(ID_BITS + 2) * b] = 0
    for i in range(ID_BITS):
        if frame_id >> i & 1:
            rgb[b:2 * b, (i + 1) * b:(i + 2) * b] = 255


def read_frame_id(rgb):
    """The frame id stamped by stamp_frame_id, read back from a decoded picture."""
    b = _id_block(rgb.shape[1], rgb.shape[0])
    y = b + b // 2
    fid = 0
    for i in range(ID_BITS):
        x = (i + 1) * b + b // 2
        if int(rgb[y, x].mean()) >= 128:
            fid |= 1 << i
    return fid


# ---------------------------------------------------------------- sources

class SyntheticSource:
    """A test scene with motion: a bouncing square, a sweeping bar, a ticking frame id."""

    spec = "synthetic"

    def __init__(self):
        self._backgrounds = {}

    def _background(self, width, height):
        bg = self._backgrounds.get((width, height))
        if bg is None:
            x = np.linspace(40, 200, width, dtype=np.float32)
            y = np.linspace(30, 160, height, dtype=np.float32)
            bg = np.empty((height, width, 3), dtype=np.uint8)
            bg[..., 0] = x[None, :]
            bg[..., 1] = y[:, None]
            bg[..., 2] = 110
            step = max(8, width // 16)
            bg[::step, :] //= 2              # a grid gives the encoder some detail
            bg[:, ::step] //= 2
            self._backgrounds[(width, height)] = bg
        return bg

    def frame(self, width, height, frame_id, t):
        rgb = self._background(width, height).copy()
        side = max(4, height // 5)
        x = _bounce(t * width * 0.35, width - side)
        y = _bounce(t * height * 0.27, height - side)
        rgb[y:y + side, x:x + side] = (240, 150, 20)
        bar = max(2, width // 60)
        bx = _bounce(t * width * 0.8, width - bar)
        rgb[:, bx:bx + bar] = (30, 220, 60)
        stamp_frame_id(rgb, frame_id)
        return rgb

    def close(self):
        pass


def _bounce(pos, span):
    """Position moving back and forth over [0, span]."""
    if span <= 0:
        return 0
    p = int(pos) % (2 * span)
    return p if p <= span else 2 * span - p


class PhotoSource:
    """A real photograph as a camera on a slow pan-and-tilt would see it.

    The picture is one of scikit-learn's sample images (640x427 JPEGs inside the package:
    nothing is downloaded), softened once (BLUR px: a small lens and the sensor's own
    denoising), scaled up to the requested size (at least enough to cover it), zooming
    between 1x and ZOOM over PERIOD seconds while the view drifts across it, plus the
    temporal noise of a small sensor (gaussian, SIGMA levels). A synthetic scene's flat areas
    compress far better than a real view: "china" gives 1280x720 JPEGs of 118-143 KB at
    quality 80 (4:2:2), as the issue reports for the OV5640 indoors; "flower" about 90 KB
    (tests/test_sim_frames.py). A frame costs a resize and an add in C (~7 ms at 720p);
    nothing is precomputed but NOISE_FRAMES noise images per size."""

    PHOTOS = ("china", "flower")
    PERIOD = 20.0
    ZOOM = 1.3
    BLUR = 0.6
    SIGMA = 3.0
    NOISE_FRAMES = 4

    def __init__(self, name="china"):
        if name not in self.PHOTOS:
            raise ValueError("unknown photo %r (use %s)" % (name, ", ".join(self.PHOTOS)))
        self.spec = "photo:" + name
        img = Image.open(photo_path(name)).convert("RGB")
        self._img = img.filter(ImageFilter.GaussianBlur(self.BLUR))
        self._noise = {}

    def _noise_for(self, width, height, k):
        bank = self._noise.get((width, height))
        if bank is None:
            rng = np.random.default_rng(2435)
            bank = []
            for _ in range(self.NOISE_FRAMES):
                n = rng.normal(128.0, self.SIGMA, (height, width, 3))
                bank.append(Image.fromarray(np.clip(n, 0, 255).astype(np.uint8)))
            self._noise[(width, height)] = bank
        return bank[k % len(bank)]

    def view(self, width, height, t):
        """The part of the photo seen at scene time t: a (left, top, right, bottom) box."""
        sw, sh = self._img.size
        phase = 2 * math.pi * t / self.PERIOD
        zoom = max(width / sw, height / sh) * (1 + (self.ZOOM - 1) * (1 - math.cos(phase)) / 2)
        bw, bh = width / zoom, height / zoom
        x = (sw - bw) * (0.5 + 0.5 * math.sin(phase * 0.5))
        y = (sh - bh) * (0.5 + 0.5 * math.sin(phase * 0.75))
        return (x, y, x + bw, y + bh)

    def frame(self, width, height, frame_id, t):
        img = self._img.resize((width, height), Image.BILINEAR, box=self.view(width, height, t))
        img = ImageChops.add(img, self._noise_for(width, height, frame_id), 1.0, -128)
        rgb = np.array(img)
        stamp_frame_id(rgb, frame_id)
        return rgb

    def close(self):
        pass


def photo_path(name):
    """Where the installed scikit-learn keeps sample photo `name` (without importing it)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the photo source needs scikit-learn (pip install scikit-learn, "
                         "or `make setup`): its sample images are the scene")
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "images",
                        name + ".jpg")
    if not os.path.exists(path):
        raise ValueError("scikit-learn has no sample image %s" % path)
    return path


class FileSource:
    """Frames of a video (or still image) file, looped; one file frame per sensor frame."""

    def __init__(self, path):
        import av
        self.spec = "file:" + path
        self._av = av
        self._path = path
        self._container = av.open(path)
        self._frames = self._container.decode(video=0)
        self._last = None

    def _next(self):
        try:
            return next(self._frames)
        except (StopIteration, self._av.error.EOFError):
            self._container.close()
            self._container = self._av.open(self._path)
            self._frames = self._container.decode(video=0)
            return next(self._frames, None)

    def frame(self, width, height, frame_id, t):
        f = self._next()
        if f is not None:
            self._last = f
        if self._last is None:
            return np.zeros((height, width, 3), dtype=np.uint8)
        return self._last.reformat(width=width, height=height, format="rgb24").to_ndarray()

    def close(self):
        self._container.close()


class V4L2Source:
    """A webcam: a thread keeps decoding; each sensor frame takes the newest picture."""

    def __init__(self, device):
        import av
        self.spec = "v4l2:" + device
        self._container = av.open(device, format="video4linux2")
        self._latest = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="v4l2")
        self._thread.start()

    def _run(self):
        try:
            for f in self._container.decode(video=0):
                self._latest = f
                if self._stop:
                    break
        except Exception:       # device unplugged: keep the last picture
            pass

    def frame(self, width, height, frame_id, t):
        f = self._latest
        if f is None:
            return np.zeros((height, width, 3), dtype=np.uint8)
        return f.reformat(width=width, height=height, format="rgb24").to_ndarray()

    def close(self):
        self._stop = True
        self._container.close()


def open_source(spec="synthetic"):
    """A frame source from its spec string (see the module docstring)."""
    if spec in (None, "", "synthetic"):
        return SyntheticSource()
    kind, _, arg = spec.partition(":")
    if kind == "file" and arg:
        return FileSource(arg)
    if kind == "v4l2" and arg:
        return V4L2Source(arg)
    if kind == "photo":
        return PhotoSource(arg or "china")
    raise ValueError("unknown frame source %r (use synthetic, photo[:NAME], file:PATH or "
                     "v4l2:/dev/videoN)" % spec)
