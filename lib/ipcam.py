# The camera application: wires the modules of lib/ into one loop.
#
#   start-up   LED, storage decision (sdcheck), config, log, crash guard, watchdog, WiFi,
#              time, camera, RTSP server, HTTP server (lib/webd)
#   the loop   network I/O (rtspd polls its sockets and webd's), a frame when a viewer
#              (RTSP or MJPEG), a snapshot or a still wants one, WiFi and time upkeep, deep
#              sleep when nobody watches, LED, watchdog
#
# One select.poll loop (inside rtspd) serves everything; capture is non-blocking, so the
# loop never waits for the sensor.
import gc
import sys
import time
import machine

import appconfig
import applog
import crashguard
import sdcheck
import status_led
import storage
import timeutil

# rtspd preallocates two frame slots and a staging buffer of its frame_max (256 KB) each,
# plus buffers per connection: about 900 KB still free when the camera starts. Firmware
# 4.5.0-4.5.5 gives Python a single heap of about 280 KB (no SDRAM heap): with less than that
# free the camera streams in lean mode (lib/fbslots.py: rtspd's slots and connection buffers
# in frame-buffer memory, a 16 KB staging copy, no web server); below LEAN_FREE it cannot
# stream and says so instead of crashing into safe mode. Decided by size (gc.mem_free()),
# never by version.
MIN_FREE = 900 * 1024
LEAN_FREE = 120 * 1024      # what the camera loop needs in lean mode (32-bit: see fbslots.py)
LEAN_STAGE = 4096           # rtspd's staging copy in lean mode (refilled ~40 times a frame: a
                            # seek and a write each; a small block is found in a fragmented heap)
SLOT_BYTES = 256 * 1024     # one HTTP frame slot (webd.frames): rtspd's frame_max
FRAME_MAX = SLOT_BYTES      # the largest JPEG rtspd takes (its default frame_max)
LINK_RATE = 600000          # bytes/s up the WiFi link (lwipopts_common.h: "TCP ... 600 k/s"):
                            # rtspd hands lwIP no more (rtspd/budget.py)
VERSION = "0.1.0"           # the app's version (pyproject.toml's), shown by /status.json


class App:
    def __init__(self, led):
        self.led = led
        self.decision = sdcheck.decide()
        self.cfg, self.cfg_errors = appconfig.load(storage.join(self.decision["app"], "config.json"))
        self.store = storage.Storage(self.decision, self.cfg)
        self.log = applog.setup(self.cfg, self.store)
        self.led.set_mode(self.cfg["led"]["mode"])
        self._report_start()
        self.wdt = crashguard.Watchdog(self.cfg)
        self.guard = crashguard.CrashGuard(self.cfg, self.decision.get("flash"), self.store,
                                           self.log, machine, self.wdt)
        # before the crash guard starts: whether the last run ended in a planned deep sleep
        # (its wake marker) is part of telling a hang from a wake
        import power
        drive = self.store.flash or self.store.root or self.decision.get("app") or "/"
        self.power = power.Power(self.cfg["power"], self.log,
                                 marker_path=storage.join(drive, "wake.marker"))

    def _report_start(self):
        log = self.log
        d = self.decision
        log.info("camera starting: firmware %s, reset cause %d, %s", d.get("fw"),
                 machine.reset_cause(), self.store.describe())
        if not d.get("card_ok"):
            log.warning("SD card not used: %s", d.get("reason"))
        self.led.set_error(status_led.ERR_SD, not self.store.on_card)
        self.store.on_change(lambda s: self.led.set_error(status_led.ERR_SD, not s.on_card))
        for e in self.cfg_errors:
            log.error("config.json: %s", e)
        self.led.set_error(status_led.ERR_CONFIG, bool(self.cfg_errors))

    def run(self):
        gc.collect()
        free = gc.mem_free()
        h = self.cfg["http"]
        need = MIN_FREE + (h["frame_slots"] * SLOT_BYTES if h["enabled"] else 0)
        self.lean = None            # lean mode: an allocator of frame-buffer memory
        if free < need:
            if free >= LEAN_FREE:
                self.lean = self._lean(free, need)
            if self.lean is None:
                self._cannot_stream(free, LEAN_FREE)    # does not return
        if self.guard.begin(slept=self.power.marker_found):
            self.guard.safe_loop(self.led)          # does not return
        self.wdt.start()
        self.guard.run(self._serve, self.led)

    def _serve(self):
        Camera(self).run()

    def _lean(self, free, need):
        try:
            import fbslots
            fb = fbslots.FbAlloc()
            # the camera loop's modules are imported now and rtspd's staging copy allocated,
            # while the heap is still in one piece (an import leaves garbage and holes: rtspd
            # allocates ~40% more than it keeps); no machine code runs yet (rtspd.nativeguard)
            gc.collect()
            from rtspd import fast, nativeguard             # noqa: F401
            gc.collect()
            fast.reserve(LEAN_STAGE, True)
            for name in ("capture", "ratecontrol", "still_images", "timesync", "wifi", "overlay"):
                if name != "overlay" or self.cfg["camera"]["mode"] == "overlay":
                    __import__(name)
                    gc.collect()
        except Exception as e:      # no sensor.alloc_extra_fb, or too little heap even so
            self.log.error("lean mode impossible: %r", e)
            return None
        self.log.warning("lean mode: firmware %s leaves the app %d KB of RAM (%d KB for the "
                         "normal mode): RTSP buffers in frame-buffer memory, web server off "
                         "(4.5.6 and later have 8 MB)",
                         self.decision.get("fw"), free // 1024, need // 1024)
        return fb

    def _cannot_stream(self, free, need):
        self.log.error("not streaming: firmware %s leaves the app %d KB of RAM and streaming "
                       "needs about %d KB: update the firmware (4.5.6 and later have 8 MB)",
                       self.decision.get("fw"), free // 1024, need // 1024)
        applog.flush()
        self.led.set_state(status_led.SAFE_MODE)
        while True:
            self.led.tick(time.ticks_ms())
            time.sleep_ms(50)


class Camera:
    """Everything that runs while the camera is up. Built inside the crash guard, so an
    exception anywhere here becomes a crash report and a restart."""

    def __init__(self, app):
        import capture
        import ratecontrol
        import still_images
        import timesync
        import wifi
        self.app = app
        cfg = app.cfg
        self.log = app.log
        self.led = app.led
        self.power = app.power
        self.time = timesync.TimeSync(cfg["time"], self.log, woke=self.power.woke,
                                      slept_at=self.power.slept_at)
        self.wifi = wifi.WiFi(cfg["wifi"], self.log)
        self.cam = capture.Camera(cfg["camera"], self.log)
        st = cfg["stream"]          # adaptive quality: camera.quality (capped) is the ceiling
        self.adapt = ratecontrol.RateControl(self.cam.top, st["min_quality"],
                                             st["target_fps"], st["max_kbps"])
        self._loop_max = 0          # longest loop pass (ms) since GET_PARAMETER loop_max_ms
        self.overlay = None
        if cfg["camera"]["mode"] == "overlay":
            import overlay
            self.overlay = overlay.Overlay(cfg["overlay"], self.log, clock=self.time.local_time)
        self.stills = still_images.Stills(cfg["stills"], self.log, app.store,
                                          synced=lambda: self.time.synced, camera=self.cam)
        self.server = None
        self.web = None             # webd.WebServer when http.enabled
        self._watched = False       # someone (RTSP or HTTP) is watching
        self._sd = None
        self._card_t = time.ticks_ms()
        self._frames = 0
        self._rate = [0, time.ticks_ms(), None]   # frames, since, last rate (/status.json)
        self._health_t = time.ticks_ms()
        self._health_ms = cfg["logging"]["health_s"] * 1000
        self._bad_frame_logged = False

    # -- start-up ----------------------------------------------------------------------------
    def run(self):
        # each start-up step may block for a second or two (NTP answer, sensor warm-up):
        # feed the watchdog between them
        self._start_wifi()
        self.time.boot(self._tick)
        self._tick()
        self.cam.start()
        self._tick()
        self._start_server()
        if self.power.woke:
            self.stills.wake()
        self.power.add_cleanup(self._shutdown, "camera")
        self.power.add_cleanup(self.wifi.leave, "wifi")
        self.power.add_cleanup(self.app.guard.clean_exit, "crash count")
        self.power.add_cleanup(applog.close, "log")
        self.led.set_state(status_led.IDLE)
        while True:
            self._step()

    def _start_wifi(self):
        self.led.set_state(status_led.CONNECTING)
        self.wifi.start()
        end = time.ticks_add(time.ticks_ms(), self.app.cfg["wifi"]["connect_timeout_s"] * 1000)
        while self.wifi.ip is None and time.ticks_diff(end, time.ticks_ms()) > 0:
            self.wifi.poll()
            self._tick()
            time.sleep_ms(20)
        self.led.set_error(status_led.ERR_WIFI, self.wifi.ip is None)

    def _start_server(self):
        cfg = self.app.cfg
        r = cfg["rtsp"]
        # before any of rtspd's machine code runs (the watchdog is armed): see rtspd/nativeguard
        from rtspd import nativeguard
        nativeguard.choose(r["native"], self.app.store.flash or self.app.store.root, storage,
                           self.log)
        from rtspd import RtspServer
        password, source = appconfig.ensure_password(cfg, self.app.store.root, self.app.store.flash,
                                                     self.log)
        lean = self.app.lean        # lean mode: buffers in frame-buffer memory, a small stage
        self.server = RtspServer(port=r["port"], path=r["path"], max_clients=r["max_clients"],
                                 auth=r["auth"], user=r["user"], password=password,
                                 session_timeout=r["session_timeout_s"], width=self.cam.width,
                                 height=self.cam.height, fps=self.cam.fps or 30, log=self.log,
                                 frame_max=FRAME_MAX, alloc=lean,
                                 stage=LEAN_STAGE if lean else None, link_rate=LINK_RATE)
        self.server.on_event = self._on_event
        self.server.get_param = self._param
        if self.adapt.period:
            self.server.on_frame_sent(self._sent)
        # a password the camera made up is shown on the console (the user has no other way
        # to learn it); one the user wrote into config.json is not repeated anywhere
        self._shown_password = password if source != "config" else "(as set in config.json)"
        self._start_web(password)
        if self.wifi.ip:
            self._bind(self.wifi.ip)

    def _start_web(self, password):
        cfg = self.app.cfg
        h, r = cfg["http"], cfg["rtsp"]
        if not h["enabled"]:
            return
        if self.app.lean:           # its code and buffers do not fit beside rtspd's in the heap
            self.log.warning("http: web server off in lean mode (too little RAM)")
            return
        if h["port"] == r["port"]:
            self.log.error("http: port %d is the RTSP port: web page off", h["port"])
            return
        from webd import WebServer
        fps = self.cam.fps or 30
        # max_viewers: rtspd's max_clients, clamped to what the camera's TCP connections hold
        self.web = WebServer(self.server, port=h["port"], auth=r["auth"], user=r["user"],
                             password=password, max_viewers=self.server.max_clients,
                             frame_max=self.server.frame_max, slots=h["frame_slots"],
                             frame_ms=1000 // fps + 1, store=self.app.store, log=self.log)
        self.web.on_event = self._on_event
        self.web.take_still = self.stills.request
        self.web.status = self._status

    def _bind(self, ip):
        try:
            self.server.start(ip)
        except OSError as e:
            self.log.error("rtsp: cannot listen on %s:%d (%s)", ip, self.server.port, e)
            return
        self._announce(ip)
        if self.web is not None:
            try:
                self.web.start(ip)      # in rtspd's poller: after its start()
            except OSError as e:
                self.log.error("http: cannot listen on %s:%d (%s)", ip, self.web.port, e)
                return
            print("Web page: http://%s:%d/  (same user and password)" % (ip, self.web.port))

    def _announce(self, ip):
        # The console (USB serial, OpenMV IDE) is where a user looks first; the log file never
        # gets the password.
        r = self.app.cfg["rtsp"]
        url = "rtsp://%s:%d%s" % (ip, r["port"], self.server.path)
        if r["auth"] == "none":
            print("Stream URL: %s  (no authentication)" % url)
        else:
            print("Stream URL: %s  user: %s  password: %s" % (url, r["user"], self._shown_password))
        self.log.info("streaming at %s", url)

    # -- the loop ----------------------------------------------------------------------------
    def _step(self):
        t0 = time.ticks_ms()
        srv = self.server
        web = self.web
        srv.poll(5 if self._watched else 20)
        # rtspd told adapt how the last frame went (not while a still has the sensor)
        if self.adapt.q != self.cam.current and not self.stills.busy:
            self.cam.set_quality(self.adapt.q)
        if web is not None:
            web.tick()
        if srv.wants_frame() or self.stills.due() or (web is not None and web.wants_frame()):
            self._frame()
        ev = self.wifi.poll()
        if ev is not None:
            self._wifi_event(ev)
        self.time.poll(busy=self._watched, online=self.wifi.ip is not None)
        if self.power.due():
            self._sleep()
        self.adapt.idle(self._viewers())
        self._tick()
        dt = time.ticks_diff(time.ticks_ms(), t0)
        if dt > self._loop_max:
            self._loop_max = dt

    def _frame(self):
        img = self.cam.snapshot()
        if img is None:
            return
        t = time.ticks_ms()
        if self.overlay is not None:
            self.overlay.draw(img)
        buf, n, ok = self.stills.encode(img, t)   # a still's frame: at stills.quality
        # a still's frame RTP/JPEG cannot carry (4:4:4, too large) is not streamed
        ok = ok and (n <= FRAME_MAX or not self.stills.large(t))
        if ok and self.server.playing:
            try:
                self.server.send_frame(buf, n, t)
            except ValueError as e:
                if not self._bad_frame_logged:
                    self._bad_frame_logged = True
                    self.log.error("rtsp: frame cannot be streamed: %s", e)
        if ok and self.web is not None and self.web.wants_frame():
            self.web.send_frame(buf, n, t)
        self.stills.offer(buf, n)
        self._frames += 1
        self._rate[0] += 1

    def _sent(self, gen, captured, size):
        # rtspd: a frame is with its viewers. One made at a still's quality is larger on
        # purpose: rate control takes its timing, not its size
        self.adapt.sent(gen, captured, size, not self.stills.large(captured))

    def _tick(self):
        now = time.ticks_ms()
        self.led.tick(now)
        self.app.wdt.feed()
        self.app.guard.stable(now)
        applog.tick(now)
        self._check_card(now)
        if time.ticks_diff(now, self._health_t) >= self._health_ms:
            self._health(now)

    def _check_card(self, now):
        # a removed card is noticed within half a second, without asking every loop
        if self.app.store.on_card and time.ticks_diff(now, self._card_t) >= 500:
            self._card_t = now
            if self._sd is None:
                self._sd = machine.SDCard(1)
            self.app.store.poll(self._sd)

    def _health(self, now):
        secs = time.ticks_diff(now, self._health_t) / 1000
        self._health_t = now
        gc.collect()
        st = self.server.stats() if self.server else {}
        self.log.info("health: %.1f fps, quality %d, free heap %d, viewers %d, sent %d, "
                      "skipped %d", self._frames / secs, self.cam.current, gc.mem_free(),
                      st.get("playing", 0), st.get("sent", 0), st.get("skipped", 0))
        self._frames = 0

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, name, arg):
        # from both servers: an MJPEG viewer is a viewer (LED, WiFi power saving, deep sleep)
        if name in ("first_play", "last_gone"):
            n = self._viewers()
            if n and not self._watched:
                self._watched = True
                self.log.info("first viewer started playing")
                self.wifi.set_streaming(True)
                self.led.set_state(status_led.STREAMING)
            elif not n and self._watched:
                self._watched = False
                self.log.info("last viewer gone")
                self.wifi.set_streaming(False)
                self.led.set_state(status_led.IDLE)
            self.power.viewers(n)
        elif name == "request":                 # a page, a snapshot, a still: someone is there
            self.power.keep_awake()
        elif name == "set_parameter" and arg and arg[0] == "snapshot":
            self.stills.request()

    def _param(self, key):
        """RTSP GET_PARAMETER values (tools/probe.py, tools/bench.py); None: unknown key."""
        if key == "quality":
            return str(self.cam.current)
        if key == "loop_max_ms":
            v, self._loop_max = self._loop_max, 0
            return str(v)
        if key == "frames":
            return str(self.cam.frames)
        return None

    def _viewers(self):
        return self.server.playing + (self.web.viewers if self.web is not None else 0)

    def _status(self):
        """/status.json (webd adds uptime, free heap and its own counters)."""
        st = self.app.store
        r = self._rate                  # frames per second since the last status (>= 1 s)
        ms = time.ticks_diff(time.ticks_ms(), r[1])
        if ms >= 1000 or r[2] is None:
            r[2] = round(r[0] * 1000 / ms, 1) if ms > 0 else 0.0
            r[0], r[1] = 0, time.ticks_add(r[1], ms)
        sync = self.time.synced_at
        t = timeutil.gmtime(sync) if sync is not None else None
        return {
            "version": VERSION, "firmware": self.app.decision.get("fw"),
            "fps": r[2],
            "quality": self.cam.current,
            "viewers": {"rtsp": self.server.playing},
            "storage": {"drive": "sd" if st.on_card else ("flash" if st.root else "none"),
                        "state": st.state, "free": st.free()},
            "time": {"synced": self.time.synced, "source": self.time.source,
                     "last_sync": "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6] if t else None},
            "wifi": {"ip": self.wifi.ip, "rssi": self.wifi.rssi()},
            "last_crash": self.app.guard.last_report(),
        }

    def _wifi_event(self, ev):
        import wifi
        if ev == wifi.UP:
            self.led.set_error(status_led.ERR_WIFI, False)
            self._bind(self.wifi.ip)
        elif ev == wifi.DOWN:
            self.led.set_error(status_led.ERR_WIFI, True)
            if self.web is not None:
                self.web.stop()
            self.server.stop()

    # -- deep sleep ----------------------------------------------------------------------------
    def _sleep(self):
        self.led.set_state(status_led.SLEEPING)
        self.led.tick(time.ticks_ms())
        self.log.info("nobody watching: going to deep sleep for %d s", self.power.sleep_s)
        self.power.sleep()                        # runs the cleanups; does not return

    def _shutdown(self):
        if self.web is not None:
            self.web.stop()
        if self.server:
            self.server.stop()
        self.cam.close()


def main():
    led = status_led.StatusLed()
    led.set_state(status_led.BOOTING)
    try:
        app = App(led)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        # Nothing to log to yet: say it on the console and keep the LED meaningful
        sys.print_exception(e)
        led.set_error(status_led.ERR_CONFIG, True)
        while True:
            led.tick(time.ticks_ms())
            time.sleep_ms(50)
    app.run()
