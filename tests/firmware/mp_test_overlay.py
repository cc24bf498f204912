# overlay: text format, unsynced text, both draw_string signatures, box geometry, caching
# (clock read only around second changes) and no allocation per frame.
import gc
import micropython
import overlay
from fakes import Ticks, CameraTicks, TICKS_PERIOD


class Clock:
    """Display time that moves with the fake ticks; second changes at a chosen phase."""
    def __init__(self, ticks, base=(2026, 11, 23, 15, 45, 1), phase_ms=370, synced=True):
        self.ticks = ticks
        self.base = base
        self.phase = phase_ms
        self.synced = synced
        self.reads = 0
        self.frozen = None
        self._cache = {}

    def seconds(self):
        return (self.ticks.t + self.phase) // 1000

    def tuple_at(self, n):
        # preallocated per second so reading the clock allocates nothing in the tests
        t = self._cache.get(n)
        if t is None:
            y, mo, d, h, mi, s = self.base
            s += n
            mi += s // 60
            s %= 60
            h += mi // 60
            mi %= 60
            t = (y, mo, d, h, mi, s, 0, 0)
            self._cache[n] = t
        return t

    def __call__(self):
        self.reads += 1
        if not self.synced:
            return None
        if self.frozen is not None:
            return self.frozen
        return self.tuple_at(self.seconds() - self.ticks_start_s)


class Img4:
    """Firmware 4.x image: draw_string(x, y, text, ...); the tuple form raises."""
    def __init__(self, w=1280, h=720):
        self.w = w
        self.h = h
        self.strings = []
        self.rects = []
        self.refused = 0
        self.record = True

    def width(self):
        return self.w

    def height(self):
        return self.h

    def draw_rectangle(self, r, color=None, fill=False):
        if self.record:
            self.rects.append((r, color, fill))

    def draw_string(self, a, b, c=None, color=None, scale=1.0):
        if isinstance(a, tuple):
            self.refused += 1
            raise ValueError("requested length 3 but object has length 2")
        if self.record:
            self.strings.append(((a, b), c, color, scale))


class Img5(Img4):
    """Firmware 5.0 image: draw_string((x, y), text, ...); the x, y form raises."""
    def draw_string(self, a, b, c=None, color=None, scale=1.0):
        if not isinstance(a, tuple):
            self.refused += 1
            raise TypeError("object 'int' isn't a tuple or list")
        if self.record:
            self.strings.append((a, b, color, scale))


def make(cfg=None, firmware=(5, 0, 0), synced=True):
    ticks = Ticks(5000)
    clock = Clock(ticks, synced=synced)
    clock.ticks_start_s = clock.seconds()
    ov = overlay.Overlay(cfg or {}, None, clock=clock, ticks_ms=ticks, firmware=firmware)
    return ov, clock, ticks


def test_time_format_and_camera_name():
    ov, clock, ticks = make({"camera_name": "Garage", "format": "%d.%m.%Y %H:%M:%S"})
    assert ov.refresh() == "Garage 23.11.2026 15:45:01"
    ov, clock, ticks = make({"format": "%Y%m%d-%H%M %%"})
    assert ov.refresh() == "20261123-1545 %"


def test_unsupported_format_falls_back_and_is_reported():
    lines = []

    class Log:
        def error(self, msg, *a):
            lines.append(msg % a)
    ticks = Ticks(5000)
    clock = Clock(ticks)
    clock.ticks_start_s = clock.seconds()
    ov = overlay.Overlay({"format": "%Y %Q"}, Log(), clock=clock, ticks_ms=ticks)
    assert ov.refresh() == "2026-11-23 15:45:01"
    assert lines and "format" in lines[0]


def test_unsynced_clock_shows_a_notice_not_a_date():
    ov, clock, ticks = make({"camera_name": "Cam1"}, synced=False)
    assert ov.refresh() == "Cam1 TIME NOT SYNCED"
    img = Img5()
    ov.draw(img)
    assert img.strings[-1][1] == "Cam1 TIME NOT SYNCED"
    # once synced, the time appears within a fraction of a second
    clock.synced = True
    for _ in range(10):
        ticks.t += 33
        ov.draw(img)
    assert img.strings[-1][1].startswith("Cam1 2026-11-23 15:45:")


def test_both_draw_string_signatures_detected_once():
    for img_cls, fw in ((Img4, (4, 7, 0)), (Img5, (5, 0, 0)), (Img4, (5, 0, 0)),
                        (Img5, (4, 8, 0)), (Img5, (0, 0, 0))):
        ov, clock, ticks = make(firmware=fw)
        img = img_cls()
        for _ in range(50):
            ticks.t += 33
            ov.draw(img)
        assert len(img.strings) == 50, (img_cls, fw)
        # a wrong first guess costs one refused call, ever
        assert img.refused == (0 if (fw >= (5, 0, 0)) == (img_cls is Img5) else 1), (img_cls, fw)


def test_box_is_filled_and_holds_the_text():
    for pos in overlay.CORNERS:
        ov, clock, ticks = make({"position": pos, "scale": 2})
        img = Img5()
        ov.draw(img)
        (bx, by, bw, bh), bg, fill = img.rects[-1]
        (tx, ty), text, fg, scale = img.strings[-1]
        assert fill is True and bg == (0, 0, 0) and fg == (255, 255, 255)
        tw, th = len(text) * 8 * 2, 10 * 2
        assert bx < tx and tx + tw < bx + bw and by < ty and ty + th < by + bh, pos
        assert 0 <= bx and bx + bw <= 1280 and 0 <= by and by + bh <= 720
        assert (bx < 640) == pos.endswith("left") and (by < 360) == pos.startswith("top")
        assert min(bx, by, 1280 - bx - bw, 720 - by - bh) == overlay.MARGIN
    # explicit x, y; clamped inside the frame
    ov, clock, ticks = make({"position": [100, 50]})
    img = Img5()
    ov.draw(img)
    assert img.rects[-1][0][:2] == (100, 50)
    ov, clock, ticks = make({"position": [5000, 5000]})
    ov.draw(img)
    (bx, by, bw, bh) = img.rects[-1][0]
    assert bx + bw == 1280 and by + bh == 720


def test_colours_and_no_background():
    ov, clock, ticks = make({"text_color": "#FF8000", "background_color": "#102030"})
    img = Img5()
    ov.draw(img)
    assert img.strings[-1][2] == (255, 128, 0) and img.rects[-1][1] == (16, 32, 48)
    ov, clock, ticks = make({"background_color": "none"})
    img = Img5()
    ov.draw(img)
    assert img.rects == [] and len(img.strings) == 1


def test_text_follows_the_clock_and_clock_is_read_sparingly():
    ov, clock, ticks = make()
    img = Img5()
    lagging = 0
    ov.draw(img)
    clock.reads = 0
    frames = 0
    for _ in range(300):                 # 10 s at 30 fps
        ticks.t += 33
        ov.draw(img)
        frames += 1
        expect = overlay.format_time(ov._parts, clock.tuple_at(clock.seconds() - clock.ticks_start_s))
        if img.strings[-1][1] != expect:
            lagging += 1
    # right on every frame but (at most) the one where the second ticks over
    assert lagging <= 10, lagging
    # far fewer clock reads than frames (~a handful per second)
    assert clock.reads <= 10 * 8, clock.reads


def test_drawing_allocates_nothing_between_second_changes():
    ov, clock, ticks = make()
    img = Img5()
    img.record = False
    for _ in range(40):
        ticks.t += 33
        ov.draw(img)
    # the clock stops: every frame draws the cached text and box, and the overlay keeps
    # looking at the clock for the next second; none of it may allocate
    clock.frozen = clock()
    ov.draw(img)
    reads = clock.reads
    gc.collect()
    micropython.heap_lock()
    try:
        for _ in range(100):
            ticks.t += 33
            ov.draw(img)
    finally:
        micropython.heap_unlock()
    assert clock.reads > reads + 50


class OmvInts:
    """omv as the firmware has it: version_major/minor/patch are int constants."""
    def __init__(self, v):
        self.version_major, self.version_minor, self.version_patch = v

    @staticmethod
    def version_string():
        return "?"


def test_form_guess_reads_omv_versions_as_ints():
    import sys
    saved = sys.modules.get("omv")
    try:
        for v, img_cls in (((5, 0, 0), Img5), ((4, 7, 0), Img4), ((4, 8, 1), Img4)):
            sys.modules["omv"] = OmvInts(v)
            ticks = Ticks(5000)
            clock = Clock(ticks)
            clock.ticks_start_s = clock.seconds()
            ov = overlay.Overlay({}, None, clock=clock, ticks_ms=ticks)
            img = img_cls()
            for _ in range(5):
                ticks.t += 33
                ov.draw(img)
            assert len(img.strings) == 5 and img.refused == 0, v
    finally:
        if saved is None:
            sys.modules.pop("omv", None)
        else:
            sys.modules["omv"] = saved


def test_text_is_current_after_a_week_without_frames():
    # nobody watched for 7 days: the overlay's next-look time went stale and, past 6.2 days,
    # looks like the future on the wrapped tick counter; the first frame must show the time
    with CameraTicks():
        ov, clock, ticks = make()
        ticks.t = TICKS_PERIOD - 3000
        clock.ticks_start_s = clock.seconds()
        img = Img5()
        for _ in range(60):
            ticks.t += 33
            ov.draw(img)
        for days in (3, 7, 11):
            ticks.t += days * 86400 * 1000
            for _ in range(3):
                ticks.t += 33
                ov.draw(img)
            t = clock.tuple_at(clock.seconds() - clock.ticks_start_s)
            # the fake clock counts hours past 23; the overlay formats what it is given
            assert img.strings[-1][1] == overlay.format_time(ov._parts, t), (days, t)
            assert t[3] >= 24 * days
