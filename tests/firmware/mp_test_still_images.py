# stills: when a still is taken (interval, wake, request), what it is called and where it
# goes (real files through the real storage.Storage in a temporary folder), that the
# streamed JPEG bytes are saved unchanged, and that failing storage never raises; then, with
# the real capture.Camera, that a still has stills.quality whatever the stream's is.
import time
import appconfig
import storage
import still_images
from fakes import Ticks, Log, TempDir, tmpdir, rmtree, CameraTicks, GmtimeOverflow
from fakes import TICKS_PERIOD, HeapLocked

T0 = time.mktime((2026, 11, 23, 15, 45, 1, 0, 0))


class Clock:
    def __init__(self):
        self.now = T0
        self.synced = True


def real_storage(root, log):
    cfg = appconfig.defaults()
    cfg["stills"]["min_free_mb"] = 1
    return storage.Storage({"card": root, "card_ok": True, "flash": None}, cfg, log)


def make(cfg, st, log=None):
    ticks = Ticks()
    clock = Clock()
    log = log or Log()
    s = still_images.Stills(cfg, log, st, synced=lambda: clock.synced, rtc_now=lambda: clock.now,
                      ticks_ms=ticks)
    return s, ticks, clock, log


def jpeg(n, tag):
    b = bytearray(n + 500)                     # a frame buffer is larger than its JPEG
    b[0:2] = b"\xff\xd8"
    for i in range(2, n - 2):
        b[i] = (i * 7 + tag) & 0xFF
    b[n - 2:n] = b"\xff\xd9"
    return b


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_interval_stills_are_the_streamed_jpeg_under_dated_names():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({"interval_s": 60}, real_storage(d, log), log)
        buf = jpeg(5000, 1)
        assert not s.offer(buf, 5000)
        saved = []
        for step in range(130):               # 130 s, a frame offered every second
            ticks.t += 1000
            clock.now += 1
            if s.offer(buf, 5000):
                saved.append((clock.now, s.last_name))
        assert len(saved) == 2
        for now, name in saved:
            t = time.gmtime(now)
            assert name == "stills/%04d-%02d-%02d/%04d%02d%02d-%02d%02d%02d.jpg" % (
                t[:3] + t[:6])
            assert read(d + "/" + name) == bytes(buf[:5000])     # unchanged, exact length
        assert saved[0][1] == "stills/2026-11-23/20261123-154601.jpg"


def test_same_second_gets_a_sortable_suffix():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({"min_gap_ms": 0}, real_storage(d, log), log)
        names = []
        for tag in range(3):
            assert s.save(jpeg(800, tag), 800)
            names.append(s.last_name)
        assert names[1:] == [names[0][:-4] + "_01.jpg", names[0][:-4] + "_02.jpg"]
        assert sorted(names) == names and len(set(names)) == 3
        for tag, name in enumerate(names):
            assert read(d + "/" + name) == bytes(jpeg(800, tag)[:800])


def test_unsynced_clock_goes_to_its_own_folder():
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({}, real_storage(d, log), log)
        clock.synced = False
        clock.now = time.mktime((2013, 1, 1, 0, 3, 7, 0, 0))
        assert s.save(jpeg(600, 3), 600)
        assert s.last_name == "stills/unsynced/20130101-000307.jpg"


class FakeStorage:
    def __init__(self):
        self.files = {}
        self.fail_write = None        # None, "false" or an exception to raise
        self.room = True
        self.dir = "/sd/stills"
        self.state = "ok"

    def stills_dir(self):
        return self.dir

    def make_room(self, extra=0):
        if self.room == "eio":
            raise OSError(5)
        return self.room

    def path(self, name):
        return "/nonexistent-drive/" + name

    def write(self, name, data):
        if self.fail_write == "false":
            return False
        if self.fail_write is not None:
            raise self.fail_write
        self.files[name] = bytes(data)
        return True


def test_wake_and_request_triggers_with_a_minimum_gap():
    st = FakeStorage()
    s, ticks, clock, log = make({"min_gap_ms": 1000}, st)
    buf = jpeg(300, 9)
    assert not s.offer(buf, 300)               # nothing asked yet, no interval
    s.wake()
    assert s.offer(buf, 300) and len(st.files) == 1
    assert s.request()
    ticks.t += 500
    assert not s.offer(buf, 300)               # too soon after the last one
    ticks.t += 600
    clock.now += 1
    assert s.offer(buf, 300) and len(st.files) == 2
    ticks.t += 5000
    assert not s.offer(buf, 300)               # a request is taken once


def test_disabled_stills_take_nothing():
    st = FakeStorage()
    s, ticks, clock, log = make({"enabled": False, "interval_s": 10}, st)
    s.wake()
    assert not s.request()
    for _ in range(30):
        ticks.t += 1000
        assert not s.offer(jpeg(100, 0), 100)
    assert st.files == {}


def test_full_failing_or_missing_drive_returns_false_and_logs_once():
    buf = jpeg(400, 2)
    for fault in ("full", "write-false", "oserror", "eio-in-make-room", "no-drive"):
        st = FakeStorage()
        s, ticks, clock, log = make({"min_gap_ms": 0}, st)
        if fault == "full":
            st.room = False
            st.state = "full"
        elif fault == "write-false":
            st.fail_write = "false"
        elif fault == "oserror":
            st.fail_write = OSError(30)        # read-only card, if storage let it through
        elif fault == "eio-in-make-room":
            st.room = "eio"
        else:
            st.dir = None
        for _ in range(5):
            assert s.save(buf, 400) is False, fault
            clock.now += 1
        assert s.failed == 5 and s.saved == 0
        warnings = [l for l in log.lines if l[0] in ("warning", "error")]
        assert 1 <= len(warnings) <= 2, (fault, log.lines)
        # the drive comes back: saving resumes and says so
        st.__init__()
        assert s.save(buf, 400) is True
        assert any("saving again" in l[1] for l in log.lines)


def test_card_gone_with_real_storage_does_not_raise():
    d = tmpdir("stills")
    log = Log()
    st = real_storage(d, log)
    s, ticks, clock, log2 = make({}, st, log)
    rmtree(d)                                  # the card's filesystem is gone
    assert s.save(jpeg(500, 1), 500) is False
    assert s.save(jpeg(500, 1), 500) is False


def test_due_check_allocates_nothing():
    s, ticks, clock, log = make({"interval_s": 3600}, FakeStorage())
    n = 0
    with HeapLocked():
        for _ in range(200):
            ticks.t += 33
            if s.due():
                n += 1
    assert n == 0


def test_rtc_past_2038_still_saves_without_calling_gmtime_on_it():
    # 4.5.0-4.7.x: gmtime() raises OverflowError from 2**31 (an RTC set from the REPL, say)
    with TempDir("stills") as d:
        log = Log()
        s, ticks, clock, log = make({}, real_storage(d, log), log)
        clock.now = (1 << 31) + 60
        with GmtimeOverflow() as g:
            assert s.save(jpeg(600, 4), 600)
        assert g.refused == 0
        assert s.last_name.startswith("stills/unsynced/up-"), s.last_name
        assert read(d + "/" + s.last_name) == bytes(jpeg(600, 4)[:600])


def test_request_and_interval_after_a_week_without_stills():
    # the last still's tick time goes stale; past 6.2 days it reads as the future
    with CameraTicks():
        st = FakeStorage()
        s, ticks, clock, log = make({"min_gap_ms": 1000}, st)
        ticks.t = TICKS_PERIOD - 5000
        s.wake()
        assert s.offer(jpeg(300, 1), 300)
        for days in (3, 7, 11):
            ticks.t += days * 86400 * 1000
            clock.now += days * 86400
            assert s.request() and s.offer(jpeg(300, 2), 300), days
        s2, ticks2, clock2, log2 = make({"interval_s": 3600}, FakeStorage())
        ticks2.t = TICKS_PERIOD - 5000
        s2._due = ticks2()                    # due now ...
        ticks2.t += 7 * 86400 * 1000          # ... but no frame came for a week
        assert s2.due() and s2.offer(jpeg(300, 3), 300)
        assert not s2.due()


# ---------------------------------------------------------------- stills at stills.quality
# The real capture.Camera on a fake sensor whose register reaches the frames late: a frame
# has the quality set `lag` frames before it (the frames in the firmware's buffers and one in
# the sensor: the worst case lib/still_images.py assumes). Each frame's first byte after SOI
# is the quality it was made with.
import capture
from fakes import FakeImage, NullCSI, JPEG, RGB565, HD, SUB_422


class Frame(FakeImage):
    def __init__(self, encodes):
        super().__init__(64, 0)
        self.encodes = encodes      # overlay: (quality, subsampling) of every to_jpeg

    def made(self, q):
        self.buf[0:3] = bytes((0xFF, 0xD8, q))
        self.n = 40

    def to_jpeg(self, quality=90, subsampling=0, copy=False):
        self.encodes.append((quality, subsampling))
        self.made(quality)
        return self


class LagCsi:
    """csi module: JPEG frames every `period` ms of the fake ticks, `buffers` frame buffers, the
    quality register taken `lag` frames late; refuse: quality() answers False."""
    JPEG, RGB565, HD = JPEG, RGB565, HD

    def __init__(self, ticks, buffers=3, lag=None, period=33):
        self.ticks = ticks
        self.period = period
        self.reg = 90
        self.writes = []
        self.refuse = False
        self.pipe = []              # qualities of the frames in flight
        self.lag = buffers if lag is None else lag
        self.encodes = []
        self.frames = [Frame(self.encodes) for _ in range(buffers)]
        self.i = 0
        self.taken = ticks.t // period
        mod = self

        class CSI(NullCSI):
            def pixformat(self, f):
                mod.fmt = f

            def quality(self, q):
                if mod.refuse:
                    return False
                mod.reg = q
                mod.writes.append(q)
                return True

            def framebuffers(self, n=None):
                return buffers

            def snapshot(self, time=-1, frames=-1, blocking=True, image=None):
                if time != -1:
                    return None
                return mod.grab()
        self.CSI = CSI

    def grab(self):
        k = self.ticks.t // self.period
        if k <= self.taken:
            return None
        self.taken = k
        self.pipe.append(self.reg)
        q = self.pipe.pop(0) if len(self.pipe) > self.lag else self.pipe[0]
        img = self.frames[self.i]
        self.i = (self.i + 1) % len(self.frames)
        if self.fmt == JPEG:
            img.made(q)
        else:
            img.n = 0               # RGB565: to_jpeg makes it
        return img


class Img422:
    JPEG_SUBSAMPLING_422 = SUB_422
    JPEG_SUBSAMPLING_420 = 0x22


class ImgOld:                       # 4.5.0-4.5.3: no subsampling setting
    pass


def still_rig(cam_cfg, stills_cfg, buffers=3, lag=None, image=None, period=33):
    ticks = Ticks(10000)
    csi = LagCsi(ticks, buffers, lag, period)
    log = Log()
    cam = capture.Camera(cam_cfg, log, csi=csi, sensor=False, image=image or Img422(),
                         omv=False, ticks_ms=ticks)
    cam.start()
    st = FakeStorage()
    clock = Clock()
    s = still_images.Stills(stills_cfg, log, st, synced=lambda: clock.synced,
                            rtc_now=lambda: clock.now, ticks_ms=ticks, camera=cam)
    return cam, csi, s, st, ticks, log


def loop(cam, s, ticks, adapt_q, ms, sent):
    """ipcam's camera loop: the adaptive quality (unless a still has the sensor), a frame
    each pass, streamed when it can be, offered to stills. sent: (quality, streamed, large)
    per frame. -> the pass (frame count) the still was saved at, or None."""
    end = ticks.t + ms
    saved = None
    while ticks.t < end:
        if adapt_q != cam.current and not s.busy:
            cam.set_quality(adapt_q)
        img = cam.snapshot()
        if img is not None:
            t = ticks()
            buf, n, ok = s.encode(img, t)
            sent.append((buf[2], ok, s.large(t)))
            if s.offer(buf, n) and saved is None:
                saved = len(sent)
        ticks.t += 5
    return saved


def saved_quality(st):
    assert len(st.files) == 1, st.files
    return list(st.files.values())[0][2]


def test_hardware_jpeg_still_at_stills_quality_while_the_stream_runs_lower():
    for buffers in (2, 3, 4):
        cam, csi, s, st, ticks, log = still_rig({"quality": 80}, {"quality": 90}, buffers)
        sent = []
        loop(cam, s, ticks, 40, 500, sent)          # rate control has the stream at 40
        assert sent[-1][0] == 40 and not st.files
        s.request()
        before = len(sent)
        at = loop(cam, s, ticks, 40, 1000, sent)
        assert saved_quality(st) == 90, (buffers, sent[before:])   # above camera.quality too
        # the frames in flight passed, the first at 90 was kept: nothing waited longer
        # (the frame in hand at the request, `buffers` in flight, the still)
        assert at - before <= buffers + 2, (buffers, at - before)
        assert all(ok for q, ok, large in sent)                    # the stream never stopped
        # back to the adaptive quality; every frame at 90 is flagged for rate control,
        # none of the stream's own before or after
        assert cam.current == 40 and sent[-1][0] == 40 and not s.busy
        assert all(large for q, ok, large in sent if q == 90)
        assert not any(large for q, ok, large in sent[:before])
        assert not sent[-1][2]
        assert csi.writes[-2:] == [90, 40] and "stills:" not in log.text()


def test_still_at_the_quality_in_use_is_the_frame_in_hand():
    # target_fps 0 and stills.quality == camera.quality: as before, the next frame is saved
    cam, csi, s, st, ticks, log = still_rig({"quality": 80}, {"quality": 80})
    sent = []
    loop(cam, s, ticks, 80, 300, sent)
    s.request()
    n = len(sent)
    assert loop(cam, s, ticks, 80, 300, sent) == n + 1
    assert saved_quality(st) == 80 and csi.writes == [80]          # no register write
    assert not any(large for q, ok, large in sent)


def test_quality_changed_just_before_waits_for_its_frames():
    # the stream climbed to the still's quality one frame ago: its frames are still in flight
    cam, csi, s, st, ticks, log = still_rig({"quality": 90}, {"quality": 90})
    sent = []
    loop(cam, s, ticks, 50, 400, sent)
    cam.set_quality(90)
    ticks.t += 33
    img = cam.snapshot()
    s.encode(img, ticks())
    s.request()
    loop(cam, s, ticks, 90, 500, sent)
    assert saved_quality(st) == 90, sent


def test_frames_too_slow_for_the_switch_save_after_a_second_and_say_so():
    # a sensor at 2.5 fps (long exposure in the dark): the frames in flight take 1.2 s
    cam, csi, s, st, ticks, log = still_rig({"quality": 80}, {"quality": 90}, period=400)
    sent = []
    loop(cam, s, ticks, 40, 1300, sent)
    s.request()
    t0 = ticks.t
    n = len(sent)
    at = loop(cam, s, ticks, 40, 3000, sent)
    # the switch at the first frame, two let pass, the third after it is 1.2 s late
    assert at == n + 4, (at, n)
    assert 1000 <= ticks.t - t0 <= 3000
    assert len(st.files) == 1 and not s.busy and cam.current == 40
    assert "no frame at quality 90 after 1000 ms" in log.text()


def test_a_sensor_that_refuses_the_still_quality_saves_the_stream_frame():
    cam, csi, s, st, ticks, log = still_rig({"quality": 80}, {"quality": 90})
    sent = []
    loop(cam, s, ticks, 80, 300, sent)
    csi.refuse = True
    s.request()
    n = len(sent)
    assert loop(cam, s, ticks, 80, 300, sent) == n + 1
    assert saved_quality(st) == 80 and "quality 90 refused" in log.text()
    assert cam.top == 80 and not s.busy            # the stream's adaptation is unharmed


def test_overlay_still_is_encoded_at_stills_quality_and_streamed():
    cam, csi, s, st, ticks, log = still_rig({"mode": "overlay", "quality": 80}, {"quality": 95})
    sent = []
    loop(cam, s, ticks, 45, 300, sent)
    s.request()
    n = len(sent)
    assert loop(cam, s, ticks, 45, 300, sent) == n + 1             # this very frame
    assert saved_quality(st) == 95
    assert [e for e in csi.encodes if e[0] == 95] == [(95, SUB_422)]    # never AUTO
    assert sent[n] == (95, True, True)                              # streamed, not judged
    assert [q for q, ok, large in sent[n + 1:]] == [45] * (len(sent) - n - 1)
    assert not any(large for q, ok, large in sent[n + 1:])


def test_overlay_still_without_subsampling_is_444_and_not_streamed():
    # 4.5.0-4.5.3: the stream stays within the 4:4:4 cap (59); the still on the card need not
    cam, csi, s, st, ticks, log = still_rig({"mode": "overlay", "quality": 80}, {"quality": 90},
                                            image=ImgOld())
    assert cam.top == 59
    sent = []
    loop(cam, s, ticks, 59, 300, sent)
    s.request()
    n = len(sent)
    loop(cam, s, ticks, 59, 300, sent)
    assert saved_quality(st) == 90
    assert sent[n][:2] == (90, False) and all(ok for q, ok, large in sent[n + 1:])
    assert max(q for q, ok, large in sent if ok) == 59


def test_large_allocates_nothing():
    cam, csi, s, st, ticks, log = still_rig({"quality": 80}, {"quality": 90})
    sent = []
    loop(cam, s, ticks, 40, 200, sent)
    s.request()
    loop(cam, s, ticks, 40, 500, sent)
    n = 0
    with HeapLocked():
        for k in range(200):
            if s.large(ticks.t - 600 + k * 3):
                n += 1
    assert 0 < n < 200


def test_rate_control_takes_a_stills_frame_by_its_timing_not_its_size():
    import ratecontrol
    ticks = Ticks(10000)
    rc = ratecontrol.RateControl(80, 30, 10, ticks_ms=ticks)
    rc.q = 45
    gen = 0
    for size, judge in ((30000, True), (30000, True), (150000, False), (30000, True)):
        gen += 1
        cap = ticks.t
        ticks.t += 95 if judge else 300     # 30 KB in 95 ms: just right for 10 fps; the
        rc.sent(gen, cap, size, judge)      # still's frame is 5x as large and slow
    assert rc.q == 45 and rc.late == 0
    cap = ticks.t
    ticks.t += 300
    rc.sent(gen + 1, cap, 150000)
    assert rc.q < 45 and rc.late == 1       # the same frame judged: down
