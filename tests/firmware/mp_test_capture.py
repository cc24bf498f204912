# capture: csi/sensor detection and set-up, non-blocking frames, pacing, error retry and
# sensor reset, in-place JPEG encode without copies. The firmware modules are fakes that
# behave like the camera's (csi.snapshot(blocking=False) -> None while no frame is ready).
import capture
from fakes import Ticks, Log, CameraTicks, TICKS_PERIOD, FakeImage, NullCSI
from fakes import JPEG, RGB565, HD, VGA, SUB_AUTO, SUB_422, SUB_420


class Image(FakeImage):
    def __init__(self, n=1000):
        super().__init__(n, n)
        self.jpeg = None

    def to_jpeg(self, quality=90, subsampling=SUB_AUTO, copy=False):
        self.jpeg = (quality, subsampling, copy)
        self.n = 321
        return self


class Sensor:
    """Frames complete every `period` ms of the fake ticks; errors can be queued."""
    def __init__(self, ticks, period=33):
        self.ticks = ticks
        self.period = period
        self.calls = []
        self.errors = []
        self.taken = ticks.t // period
        self.img = Image()

    def ready(self):
        return self.ticks.t // self.period > self.taken

    def grab(self, blocking):
        self.calls.append("snapshot" if blocking else "snapshot_nb")
        if self.errors:
            self.ticks.t += 100
            raise self.errors.pop(0)
        if not self.ready():
            if not blocking:
                return None
            self.ticks.t = (self.taken + 1) * self.period        # wait for the next frame
        self.taken = self.ticks.t // self.period
        return self.img


class CsiModule:
    JPEG, RGB565, HD, VGA = JPEG, RGB565, HD, VGA

    def __init__(self, ticks):
        self.sensor = Sensor(ticks)
        mod = self

        class CSI:
            def __init__(self, **kw):
                mod.sensor.calls.append(("CSI", kw))

            def reset(self, hard=True):
                mod.sensor.calls.append("reset")

            def pixformat(self, f):
                mod.sensor.calls.append(("pixformat", f))

            def framesize(self, f):
                mod.sensor.calls.append(("framesize", f))

            def quality(self, q):
                mod.sensor.calls.append(("quality", q))

            def framebuffers(self, n=None):
                mod.sensor.calls.append(("framebuffers", n))

            def snapshot(self, time=-1, frames=-1, blocking=True, image=None):
                if time != -1:
                    mod.sensor.calls.append(("skip", time))
                    return None
                return mod.sensor.grab(blocking)

            def width(self):
                return 1280

            def height(self):
                return 720

            def shutdown(self, on):
                mod.sensor.calls.append(("shutdown", on))
        self.CSI = CSI


class SensorModule:
    JPEG, RGB565, HD, VGA = JPEG, RGB565, HD, VGA

    def __init__(self, ticks, frame_available=True):
        self.sensor = Sensor(ticks)
        if frame_available:
            self.get_frame_available = self.sensor.ready

    def reset(self):
        self.sensor.calls.append("reset")

    def set_pixformat(self, f):
        self.sensor.calls.append(("pixformat", f))

    def set_framesize(self, f):
        self.sensor.calls.append(("framesize", f))

    def set_quality(self, q):
        self.sensor.calls.append(("quality", q))

    def set_framebuffers(self, n):
        self.sensor.calls.append(("framebuffers", n))

    def skip_frames(self, n=-1, time=-1):
        self.sensor.calls.append(("skip", time))

    def snapshot(self):
        return self.sensor.grab(True)

    def width(self):
        return 1280

    def height(self):
        return 720


class ImageModule:
    JPEG_SUBSAMPLING_AUTO = SUB_AUTO
    JPEG_SUBSAMPLING_422 = SUB_422
    JPEG_SUBSAMPLING_420 = SUB_420


class Omv:
    def __init__(self):
        self.fb_disabled = None

    def disable_fb(self, flag):
        self.fb_disabled = flag


def csi_camera(cfg=None, ticks=None):
    ticks = ticks or Ticks(10000)
    mod = CsiModule(ticks)
    log = Log()
    cam = capture.Camera(cfg or {}, log, csi=mod, sensor=SensorModule(ticks),
                         image=ImageModule(), omv=Omv(), ticks_ms=ticks)
    return cam, mod.sensor, ticks, log


def sensor_camera(cfg=None, frame_available=True):
    ticks = Ticks(10000)
    mod = SensorModule(ticks, frame_available)
    omv = Omv()
    log = Log()
    cam = capture.Camera(cfg or {}, log, csi=False, sensor=mod, image=ImageModule(), omv=omv,
                         ticks_ms=ticks)
    return cam, mod.sensor, ticks, log, omv


def frames_in(cam, ticks, ms, step=5):
    n = 0
    end = ticks.t + ms
    while ticks.t < end:
        if cam.snapshot() is not None:
            n += 1
        ticks.t += step
    return n


def test_csi_preferred_and_configured_for_hardware_jpeg():
    cam, s, ticks, log = csi_camera({"mode": "hardware_jpeg", "quality": 70})
    cam.start()
    assert cam.api == "csi" and (cam.width, cam.height) == (1280, 720)
    assert s.calls[0] == ("CSI", {"stream": False})       # no IDE preview cost
    assert s.calls[1:5] == ["reset", ("pixformat", JPEG), ("framesize", HD), ("quality", 70)]
    # triple buffering is left to the firmware
    assert not [c for c in s.calls if c[0] == "framebuffers"]


def test_overlay_mode_captures_rgb565():
    cam, s, ticks, log = csi_camera({"mode": "overlay", "quality": 70})
    cam.start()
    assert ("pixformat", RGB565) in s.calls
    assert not [c for c in s.calls if c[0] == "quality"]


def test_sensor_api_when_csi_absent():
    cam, s, ticks, log, omv = sensor_camera({"mode": "overlay", "framesize": "VGA"})
    cam.start()
    assert cam.api == "sensor"
    assert s.calls[:3] == ["reset", ("pixformat", RGB565), ("framesize", VGA)]
    assert omv.fb_disabled is True
    assert not [c for c in s.calls if c[0] == "framebuffers"]


def test_csi_snapshot_never_blocks():
    cam, s, ticks, log = csi_camera()
    cam.start()
    s.calls = []
    got = frames_in(cam, ticks, 1000, step=5)
    assert 28 <= got <= 31                       # every sensor frame, ~30 fps
    assert set(s.calls) == {"snapshot_nb"}
    # right after a frame, the next call finds none ready: None at once, no waiting
    while cam.snapshot() is None:
        ticks.t += 1
    t = ticks.t
    assert cam.snapshot() is None and ticks.t == t


def test_sensor_with_frame_available_only_reads_ready_frames():
    cam, s, ticks, log, omv = sensor_camera()
    cam.start()
    s.calls = []
    t0 = ticks.t
    got = frames_in(cam, ticks, 1000, step=5)
    assert 28 <= got <= 31 and len(s.calls) == got
    assert ticks.t - t0 <= 1005                 # snapshot() never waited


def test_sensor_without_frame_available_is_paced_by_a_timer():
    cam, s, ticks, log, omv = sensor_camera(frame_available=False)
    cam.start()
    s.calls = []
    got = frames_in(cam, ticks, 1000, step=5)
    # snapshot() called only about once per frame period, not on every loop pass
    assert 25 <= got <= 31 and len(s.calls) == got


def test_target_fps_limits_the_rate():
    cam, s, ticks, log = csi_camera({"fps": 10})
    cam.start()
    got = frames_in(cam, ticks, 2000, step=5)
    assert 19 <= got <= 21


def test_capture_errors_are_retried_logged_and_reset_the_sensor():
    cam, s, ticks, log = csi_camera({"reset_after": 3})
    cam.start()
    s.errors = [RuntimeError("Frame capture has timed out.")] * 2
    assert cam.snapshot() is None and cam.snapshot() is None
    assert cam.errors_in_row == 2 and cam.resets == 0
    ticks.t += 40
    assert cam.snapshot() is not None          # recovered: the counter starts again
    assert cam.errors_in_row == 0
    s.calls = []
    s.errors = [RuntimeError("Frame capture has timed out.")] * 3
    for _ in range(3):
        cam.snapshot()
    assert cam.resets == 1 and "reset" in s.calls and ("pixformat", JPEG) in s.calls
    assert len([l for l in log.lines if "capture failed" in l[1]]) == 5
    assert any(l[0] == "error" and "reset" in l[1] for l in log.lines)
    ticks.t += 40
    assert cam.snapshot() is not None


def test_a_silent_sensor_is_noticed():
    cam, s, ticks, log = csi_camera({"stall_ms": 500})
    cam.start()
    s.ready = lambda: False                     # no frame ever completes
    s.calls = []
    s.errors = [RuntimeError("Frame capture has timed out.")]
    for _ in range(200):
        cam.snapshot()
        ticks.t += 5
    # after stall_ms of nothing, one blocking capture surfaces the firmware's error
    assert "snapshot" in s.calls and cam.errors == 1


def test_encode_overlay_in_place_with_422_or_420_never_auto():
    for sub, want in (("422", SUB_422), ("420", SUB_420)):
        cam, s, ticks, log = csi_camera({"mode": "overlay", "quality": 55, "subsampling": sub})
        cam.start()
        img = Image()
        buf, n = cam.encode(img)
        assert img.jpeg == (55, want, False)
        assert buf is img.buf and n == 321           # the frame buffer itself, no copy


def test_bad_subsampling_falls_back_to_422():
    cam, s, ticks, log = csi_camera({"mode": "overlay", "subsampling": "444"})
    img = Image()
    cam.encode(img)
    assert img.jpeg[1] == SUB_422
    assert any("subsampling" in l[1] for l in log.lines if l[0] == "error")


def test_encode_hardware_jpeg_passes_the_sensor_jpeg_through():
    cam, s, ticks, log = csi_camera({"mode": "hardware_jpeg"})
    img = Image()
    img.n = 777
    buf, n = cam.encode(img)
    assert img.jpeg is None and buf is img.buf and n == 777


def test_no_camera_module_is_a_clear_error():
    try:
        capture.Camera({}, Log(), csi=False, sensor=False, image=ImageModule(), omv=False)
    except RuntimeError as e:
        assert "csi" in str(e) and "sensor" in str(e)
    else:
        raise AssertionError("expected RuntimeError")


def test_frame_path_allocates_nothing_but_the_result_pair():
    import gc
    import micropython
    ticks = Ticks(10000)
    img = Image()

    class Quiet:
        """csi without bookkeeping: a frame every 33 ms, nothing allocated."""
        JPEG, RGB565, HD = JPEG, RGB565, HD

        class CSI(NullCSI):
            def snapshot(self, time=-1, frames=-1, blocking=True, image=None):
                return img if ticks.t % 33 < 5 else None
    cam = capture.Camera({"mode": "overlay", "warmup_ms": 0}, Log(), csi=Quiet(),
                         image=ImageModule(), omv=False, ticks_ms=ticks)
    cam.start()
    got = 0
    for _ in range(20):                  # warm up
        ticks.t += 5
        cam.snapshot()
    gc.collect()
    micropython.heap_lock()
    try:
        for _ in range(400):
            ticks.t += 5
            f = cam.snapshot()
            if f is not None:
                got += 1
    finally:
        micropython.heap_unlock()
    assert got > 40


# -- the firmware generations' shapes -------------------------------------------------------

class Csi48(CsiModule):
    """4.8: csi.CSI(cid, delays, fflush, fb_size): no `stream` keyword (TypeError)."""

    def __init__(self, ticks):
        super().__init__(ticks)
        base = self.CSI
        mod = self

        class CSI(base):
            def __init__(self, cid=-1, delays=True, fflush=True, fb_size=2 * 1024 * 1024,
                         **kw):
                if kw:
                    raise TypeError("unexpected keyword argument '%s'" % list(kw)[0])
                mod.sensor.calls.append(("CSI", {}))
        self.CSI = CSI


def test_csi_class_without_stream_keyword_is_built_plainly_48():
    ticks = Ticks(10000)
    mod = Csi48(ticks)
    cam = capture.Camera({}, Log(), csi=mod, sensor=SensorModule(ticks), image=ImageModule(),
                         omv=False, ticks_ms=ticks)
    cam.start()
    assert cam.api == "csi" and mod.sensor.calls[0] == ("CSI", {})
    assert frames_in(cam, ticks, 500) >= 14


def test_csi_module_without_csi_class_is_the_legacy_sensor_api_46_47():
    # 4.6-4.7: `import csi` works but is the sensor module under a second name
    for sensor_importable in (True, False):
        ticks = Ticks(10000)
        alias = SensorModule(ticks)
        omv = Omv()
        cam = capture.Camera({"mode": "overlay"}, Log(), csi=alias,
                             sensor=alias if sensor_importable else False,
                             image=ImageModule(), omv=omv, ticks_ms=ticks)
        cam.start()
        assert cam.api == "sensor" and alias.sensor.calls[:2] == ["reset", ("pixformat", RGB565)]
        assert omv.fb_disabled is True
        assert frames_in(cam, ticks, 500) >= 14


def test_no_disable_fb_on_48_and_later_is_fine():
    ticks = Ticks(10000)
    cam = capture.Camera({}, Log(), csi=False, sensor=SensorModule(ticks), image=ImageModule(),
                         omv=object(), ticks_ms=ticks)
    cam.start()
    assert cam.api == "sensor" and frames_in(cam, ticks, 300) >= 8


class Image452(Image):
    """4.5.0-4.5.3: to_jpeg takes no subsampling (unknown keywords are ignored, as the
    firmware's keyword helpers do); the encoder picks it from the quality."""

    def to_jpeg(self, quality=90, copy=False, **ignored):
        self.jpeg = (quality, ignored)
        self.sampling = "420" if quality <= 35 else "422" if quality < 60 else "444"
        self.n = 321
        return self


class ImageModule452:
    pass        # no JPEG_SUBSAMPLING_* constants


def test_overlay_on_firmware_without_subsampling_keeps_the_jpeg_streamable():
    for sub, q, want_q, want in (("422", 80, 59, "422"), ("422", 50, 50, "422"),
                                 ("420", 80, 35, "420"), ("420", 30, 30, "420")):
        ticks = Ticks(10000)
        log = Log()
        cam = capture.Camera({"mode": "overlay", "quality": q, "subsampling": sub}, log,
                             csi=False, sensor=SensorModule(ticks), image=ImageModule452(),
                             omv=False, ticks_ms=ticks)
        img = Image452()
        buf, n = cam.encode(img)
        assert img.jpeg == (want_q, {}) and img.sampling == want, (sub, q, img.jpeg)
        assert buf is img.buf and n == 321
        assert "4:4:4" in log.text() and "RTP" in log.text()


def test_hardware_jpeg_on_firmware_without_subsampling_constants():
    ticks = Ticks(10000)
    cam = capture.Camera({"mode": "hardware_jpeg", "quality": 90}, Log(), csi=False,
                         sensor=SensorModule(ticks), image=ImageModule452(), omv=False,
                         ticks_ms=ticks)
    cam.start()
    assert ("quality", 90) in cam._sensor.sensor.calls


def test_paced_capture_after_a_week_without_viewers_starts_at_once():
    # the next-frame time goes stale while nobody asks for frames; after 6.2 days the
    # tick counter makes it look like the future: it must not hold frames back for days
    with CameraTicks():
        cam, s, ticks, log, omv = sensor_camera(frame_available=False)
        ticks.t = TICKS_PERIOD - 20000
        cam.start()
        assert frames_in(cam, ticks, 300) >= 8
        for days in (3, 7, 10):
            ticks.t += days * 86400 * 1000
            s.taken = ticks.t // s.period
            assert frames_in(cam, ticks, 300) >= 8, days


def test_frame_available_check_that_fails_falls_back_to_timed_pacing():
    cam, s, ticks, log, omv = sensor_camera()

    def refuses():
        raise NotImplementedError("not available")
    cam._sensor.get_frame_available = refuses
    cam.start()
    got = frames_in(cam, ticks, 1000)
    assert 25 <= got <= 31 and cam.errors == 0
    assert len([l for l in log.lines if "get_frame_available" in l[1]]) == 1


def test_set_quality_reaches_the_sensor_only_when_it_changes():
    # csi (4.8+) and the legacy sensor module: the quality register, within the configured one
    for make in (csi_camera, sensor_camera):
        got = make({"mode": "hardware_jpeg", "quality": 80})
        cam, s = got[0], got[1]
        cam.start()
        s.calls = []
        cam.set_quality(60)
        cam.set_quality(60)
        cam.set_quality(95)                 # above the configured quality: the ceiling
        assert s.calls == [("quality", 60), ("quality", 80)], s.calls
        assert cam.current == 80
        cam.set_quality(45)
        s.calls = []
        cam.reset()                         # a sensor reset keeps the quality in use
        assert ("quality", 45) in s.calls and ("quality", 80) not in s.calls


def test_set_quality_in_overlay_mode_is_the_encoders_within_its_cap():
    cam, s, ticks, log = csi_camera({"mode": "overlay", "quality": 70})
    cam.start()
    cam.set_quality(40)
    img = Image()
    cam.encode(img)
    assert img.jpeg[0] == 40 and not [c for c in s.calls if c[0] == "quality"]
    # firmware without subsampling: never above the 4:4:4 cap
    ticks = Ticks(10000)
    cam = capture.Camera({"mode": "overlay", "quality": 80}, Log(), csi=False,
                         sensor=SensorModule(ticks), image=ImageModule452(), omv=False,
                         ticks_ms=ticks)
    cam.set_quality(75)
    img = Image452()
    cam.encode(img)
    assert img.jpeg[0] == 59 and cam.top == 59


def test_a_sensor_that_refuses_the_quality_keeps_streaming():
    cam, s, ticks, log = csi_camera({"mode": "hardware_jpeg", "quality": 80})
    cam.start()
    cam._cam.quality = lambda q: False      # the driver's I2C write failed
    cam.set_quality(50)
    assert cam.current == 80 and cam.top == 80
    assert "quality 50 refused" in log.text()
    ticks.t += 40
    assert cam.snapshot() is not None
