# Timestamp overlay for the RGB565 frames of "overlay" mode: a text line (optional camera
# name + time) on a filled box, so it reads on any scene.
#
# Per frame this draws a cached string and a cached rectangle: no allocation. The clock is
# read only around the moments its second can change: after a change is seen the next
# read is ~0.9 s later, then once per frame until the second ticks (a few small tuples a
# second). The text is rebuilt when the second (or the synced state) changes.
#
# draw_string changed signature between firmware generations: (x, y, text, ...) up to 4.8,
# ((x, y), text, ...) from 5.0, and neither form works on both. The form is detected on the
# first frame: the likelier one is tried (from omv.version_major/minor/patch, which are int
# constants, not functions), the other once if the firmware refuses it with TypeError or
# ValueError (both refuse while parsing arguments, before drawing), then fixed.
import time

FONT_W = 8          # the firmware's built-in font cell, in pixels at scale 1
FONT_H = 10
PAD = 4             # box margin around the text at scale 1 (scaled too)
MARGIN = 8          # distance of a corner box from the frame edge
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
_FORM_XY = 1        # draw_string(x, y, text, ...)
_FORM_TUPLE = 2     # draw_string((x, y), text, ...)

# Keys of the "overlay" section (validated by lib/appconfig.py; unsynced_text is extra).
# Colours are "#RRGGBB"; background_color "none" draws no box. position: a corner name or
# [x, y] (the box's top-left pixel).
DEFAULTS = {
    "format": "%Y-%m-%d %H:%M:%S",
    "position": "top_left",
    "scale": 2,
    "camera_name": "",
    "text_color": "#FFFFFF",
    "background_color": "#000000",
    "unsynced_text": "TIME NOT SYNCED",
}


def parse_format(fmt):
    """Split a strftime-like format into literal strings and field indexes (0..5)."""
    fields = "YmdHMS"
    out = []
    lit = ""
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            d = fmt[i + 1]
            i += 2
            k = fields.find(d)
            if k >= 0:
                if lit:
                    out.append(lit)
                    lit = ""
                out.append(k)
            elif d == "%":
                lit += "%"
            else:
                raise ValueError("unsupported %%%s in time format (use %%Y %%m %%d %%H %%M %%S)" % d)
        else:
            lit += c
            i += 1
    if lit:
        out.append(lit)
    return out


def format_time(parts, t):
    """Text for time tuple t from parse_format() parts."""
    s = []
    for p in parts:
        if isinstance(p, str):
            s.append(p)
        elif p == 0:
            s.append("%04d" % t[0])
        else:
            s.append("%02d" % t[p])
    return "".join(s)


def _printable(text):
    # The font has ASCII 32..126 only; anything else would silently vanish on screen.
    return "".join(c if 32 <= ord(c) <= 126 else "?" for c in text)


def parse_color(v):
    """"#RRGGBB" (or [r, g, b]) -> (r, g, b); "none" or None -> None; ValueError if neither."""
    if v is None or v == "none":
        return None
    if isinstance(v, str):
        if len(v) == 7 and v[0] == "#":
            n = int(v[1:], 16)
            return (n >> 16, (n >> 8) & 255, n & 255)
    elif len(v) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in v):
        return (v[0], v[1], v[2])
    raise ValueError(v)


class Overlay:
    """cfg: the "overlay" section. clock(): display time tuple, or None when not synced."""

    def __init__(self, cfg=None, log=None, clock=None, ticks_ms=None, firmware=None):
        cfg = cfg or {}
        self._log = log
        self._clock = clock
        self._ticks = ticks_ms or time.ticks_ms
        self.enabled = True
        try:
            self._parts = parse_format(str(cfg.get("format", DEFAULTS["format"])))
        except ValueError as e:
            self._bad("format", e)
            self._parts = parse_format(DEFAULTS["format"])
        scale = cfg.get("scale", DEFAULTS["scale"])
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not 0.5 <= scale <= 8:
            self._bad("scale", scale)
            scale = DEFAULTS["scale"]
        self._scale = scale
        self._fscale = float(scale)
        name = _printable(str(cfg.get("camera_name", "") or ""))[:40]
        self._prefix = name + " " if name else ""
        self._unsynced = self._prefix + _printable(str(cfg.get("unsynced_text",
                                                                DEFAULTS["unsynced_text"])))[:60]
        self._fg = self._color(cfg, "text_color") or (255, 255, 255)
        self._bg = self._color(cfg, "background_color")
        self._pos = self._position(cfg.get("position", DEFAULTS["position"]))
        self._form = _FORM_TUPLE if (firmware or _firmware()) >= (5, 0, 0) else _FORM_XY
        self._form_known = False
        self.text = self._unsynced
        self._key = None            # the time tuple (-1: unsynced) the text was built for
        self._next = self._ticks()
        self._frame = None          # (w, h) the geometry was computed for
        self._len = -1
        self._xy = (0, 0)
        self._x = self._y = 0
        self._box = (0, 0, 0, 0)

    def _color(self, cfg, key):
        v = cfg.get(key, DEFAULTS[key])
        try:
            return parse_color(v)
        except (ValueError, TypeError):
            self._bad(key, v)
            return parse_color(DEFAULTS[key])

    def _bad(self, key, v):
        if self._log:
            self._log.error("overlay: bad %s %r, using the default", key, v)

    def _position(self, pos):
        if isinstance(pos, str) and pos.replace("-", "_") in CORNERS:
            return pos.replace("-", "_")
        try:
            if len(pos) == 2 and all(isinstance(v, int) and v >= 0 for v in pos):
                return (pos[0], pos[1])
        except TypeError:
            pass
        self._bad("position", pos)
        return DEFAULTS["position"]

    # ---------------------------------------------------------------- text

    def refresh(self):
        """Rebuild the text if the displayed second may have changed. -> current text."""
        now = self._ticks()
        # the next look is at most 900 ms ahead; further is a stale time from before a long
        # pause (no frame drawn for 6+ days: the tick counter wrapped past it)
        if 0 < time.ticks_diff(self._next, now) <= 900:
            return self.text
        t = self._clock() if self._clock else None
        key = -1 if t is None else t     # the whole time: after a pause the second alone
        if key == self._key:             # may be the same by chance
            self._next = time.ticks_add(now, 20)      # waiting for the tick: look again soon
            return self.text
        self._next = time.ticks_add(now, 900 if t is not None else 250)
        first = self._key is None
        self._key = key
        self.text = self._unsynced if t is None else self._prefix + format_time(self._parts, t)
        if first:
            self._next = now        # phase unknown yet: find the next tick
        return self.text

    # ---------------------------------------------------------------- geometry

    def _layout(self, w, h):
        n = len(self.text)
        self._frame = (w, h)
        self._len = n
        s = self._scale
        tw = int(n * FONT_W * s)
        th = int(FONT_H * s)
        pad = int(PAD * s)
        bw = tw + 2 * pad
        bh = th + 2 * pad
        pos = self._pos
        if isinstance(pos, tuple):
            bx, by = pos
        else:
            bx = MARGIN if pos.endswith("left") else w - MARGIN - bw
            by = MARGIN if pos.startswith("top") else h - MARGIN - bh
        bx = max(0, min(bx, w - bw))
        by = max(0, min(by, h - bh))
        self._box = (bx, by, bw, bh)
        self._x = bx + pad
        self._y = by + pad
        self._xy = (self._x, self._y)

    # ---------------------------------------------------------------- drawing

    def draw(self, img):
        """Stamp the current text on a mutable (RGB565) frame."""
        if not self.enabled:
            return
        self.refresh()
        w = img.width()
        h = img.height()
        if self._frame is None or len(self.text) != self._len or self._frame[0] != w \
                or self._frame[1] != h:
            self._layout(w, h)
        if self._bg is not None:
            img.draw_rectangle(self._box, color=self._bg, fill=True)
        if self._form_known:
            self._draw_text(img, self._form)
            return
        try:
            self._draw_text(img, self._form)
        except (TypeError, ValueError):
            other = _FORM_XY if self._form == _FORM_TUPLE else _FORM_TUPLE
            self._draw_text(img, other)          # raises if neither form works
            self._form = other
        self._form_known = True

    def _draw_text(self, img, form):
        if form == _FORM_TUPLE:
            img.draw_string(self._xy, self.text, color=self._fg, scale=self._fscale)
        else:
            img.draw_string(self._x, self._y, self.text, color=self._fg, scale=self._fscale)


def _firmware():
    try:
        import omv
        v = (omv.version_major, omv.version_minor, omv.version_patch)
        return tuple(x() if callable(x) else int(x) for x in v)
    except Exception:       # no omv (tests) or no board: 4.x form first, then the other
        return (0, 0, 0)
