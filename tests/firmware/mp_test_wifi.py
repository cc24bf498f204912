# wifi: non-blocking join with a deadline, readable failure reasons, back-off, drop and
# reconnect (with the new address reported), power management, leave(); the password
# never reaches the log. The network module is a fake CYW43 driven by a script.
import wifi
from fakes import Ticks, Log

PASSWORD = "correct horse battery"


class Network:
    """Fake `network`: status() follows `plan` (a function of ms since connect())."""
    STA_IF = 0

    def __init__(self, ticks):
        self.ticks = ticks
        self.calls = []
        self.plan = lambda ms, n: 3 if ms >= 300 else 1     # joins after 300 ms
        self.ip = "192.168.1.50"
        self.connected_at = None
        self.connect_times = []
        self.joins = 0
        net = self

        class WLAN:
            PM_NONE = 0x10
            PM_PERFORMANCE = 0xA11142
            PM_POWERSAVE = 0x111022

            def __init__(self, iface):
                net.calls.append(("WLAN", iface))

            def active(self, on=None):
                net.calls.append(("active", on))

            def connect(self, ssid, key):
                net.joins += 1
                net.calls.append(("connect", ssid, key))
                net.connected_at = net.ticks.t
                net.connect_times.append(net.ticks.t)

            def disconnect(self):
                net.calls.append(("disconnect",))
                net.connected_at = None

            def status(self, param=None):
                if net.connected_at is None:
                    return 0
                return net.plan(net.ticks.t - net.connected_at, net.joins)

            def ifconfig(self):
                return (net.ip, "255.255.255.0", "192.168.1.1", "192.168.1.1")

            def config(self, **kw):
                net.calls.append(("config", kw))
        self.WLAN = WLAN

    def hostname(self, name):
        self.calls.append(("hostname", name))

    def pm(self):
        c = [c[1]["pm"] for c in self.calls if c[0] == "config"]
        return c[-1] if c else None


def make(cfg=None):
    ticks = Ticks()
    net = Network(ticks)
    log = Log()
    c = {"ssid": "HomeNet", "password": PASSWORD}
    c.update(cfg or {})
    w = wifi.WiFi(c, log, network=net, ticks_ms=ticks)
    return w, net, ticks, log


def run(w, ticks, ms, step=20):
    events = []
    end = ticks.t + ms
    while ticks.t < end:
        ev = w.poll()
        if ev:
            events.append((ticks.t, ev, w.ip))
        ticks.t += step
    return events


def test_joins_without_blocking_and_reports_the_address():
    w, net, ticks, log = make()
    assert w.start()
    assert ("connect", "HomeNet", PASSWORD) in net.calls and ("active", True) in net.calls
    assert ticks.t == 0                           # start() returned at once
    events = run(w, ticks, 1000)
    assert [e[1:] for e in events] == [(wifi.UP, "192.168.1.50")]
    assert 300 <= events[0][0] <= 500
    assert w.connected() and "192.168.1.50" in log.text()


def test_power_save_off_while_streaming_configured_mode_otherwise():
    w, net, ticks, log = make({"power_management": "powersave"})
    w.start()
    run(w, ticks, 600)
    assert net.pm() == net.WLAN.PM_POWERSAVE
    w.set_streaming(True)
    assert net.pm() == net.WLAN.PM_NONE
    w.set_streaming(False)
    assert net.pm() == net.WLAN.PM_POWERSAVE
    w, net, ticks, log = make()                    # default "performance": never power save
    w.start()
    run(w, ticks, 600)
    assert net.pm() == net.WLAN.PM_NONE


def test_wrong_password_is_named_and_retried_with_back_off_and_never_logged():
    w, net, ticks, log = make({"retry_interval_s": 16})
    net.plan = lambda ms, n: -3 if ms >= 200 else 1
    w.start()
    events = run(w, ticks, 60000, step=50)
    assert events == [] and not w.connected()
    assert "wrong password" in log.text()
    starts = net.connect_times
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # 2, 4, 8, 16, 16 ... s between attempts (plus the 200 ms each failure took)
    assert [round(g / 1000) for g in gaps[:5]] == [2, 4, 8, 16, 16], gaps
    # the reason is logged once per run of identical failures, not once per attempt
    assert log.text().count("wrong password") == 1
    assert PASSWORD not in log.text() and PASSWORD not in repr(w)


def test_network_not_found_is_named():
    w, net, ticks, log = make()
    net.plan = lambda ms, n: -2 if ms >= 100 else 1
    w.start()
    run(w, ticks, 1000)
    assert "network not found" in w.last_reason and "network not found" in log.text()


def test_join_deadline():
    w, net, ticks, log = make({"connect_timeout_s": 5})
    net.plan = lambda ms, n: 1                   # joining forever
    w.start()
    run(w, ticks, 5200)
    assert not w.connected() and "no connection within 5 s" in w.last_reason
    assert ("disconnect",) in net.calls          # the stuck join was stopped


def test_drop_reconnects_and_reports_the_new_address():
    w, net, ticks, log = make()
    w.start()
    run(w, ticks, 1000)
    # the link drops at 2 s after the first join; the second join gets another address
    net.plan = lambda ms, n: (0 if n == 1 and ms >= 2000 else (3 if ms >= 300 else 1))
    net.ip = "192.168.1.77"
    events = run(w, ticks, 8000)
    kinds = [e[1] for e in events]
    assert kinds == [wifi.DOWN, wifi.UP], events
    assert events[1][2] == "192.168.1.77" and w.ip == "192.168.1.77"
    assert events[1][0] - events[0][0] < 3000     # first retry after ~2 s, then 300 ms join
    assert "link lost" in log.text()


def test_leave_disconnects_and_powers_the_radio_down():
    w, net, ticks, log = make()
    w.start()
    run(w, ticks, 600)
    net.calls = []
    w.leave()
    assert net.calls == [("disconnect",), ("active", False)]
    assert not w.connected() and w.ip is None
    assert w.poll() is None                       # no reconnect after leaving


def test_no_ssid_is_a_clear_error_not_a_crash():
    ticks = Ticks()
    net = Network(ticks)
    log = Log()
    w = wifi.WiFi({"ssid": "", "password": PASSWORD}, log, network=net, ticks_ms=ticks)
    assert not w.start()
    assert w.poll() is None and any("ssid" in l[1] for l in log.lines if l[0] == "error")


def test_connected_poll_allocates_nothing_between_checks():
    import gc
    import micropython
    w, net, ticks, log = make({"check_ms": 10000})
    w.start()
    run(w, ticks, 600)
    gc.collect()
    micropython.heap_lock()
    try:
        for _ in range(200):
            ticks.t += 33
            w.poll()
    finally:
        micropython.heap_unlock()
    assert w.connected()


def test_radio_that_fails_to_start_is_retried():
    w, net, ticks, log = make()
    real = net.WLAN
    broken = [True]

    class Flaky(real):
        def active(self, on=None):
            if broken[0]:
                raise OSError(5)
            real.active(self, on)
    net.WLAN = Flaky
    assert not w.start()
    assert "radio did not start" in log.text()
    broken[0] = False
    events = run(w, ticks, 5000)
    assert [e[1] for e in events] == [wifi.UP]


def test_firmware_without_power_management_constants_joins_and_streams():
    # MicroPython 1.20 (firmware 4.5.0-4.5.2): WLAN has no PM_* constants
    w, net, ticks, log = make({"power_management": "powersave"})
    for name in ("PM_NONE", "PM_PERFORMANCE", "PM_POWERSAVE"):
        delattr(net.WLAN, name)
    assert w.start()
    assert [e[1] for e in run(w, ticks, 600)] == [wifi.UP]
    w.set_streaming(True)
    w.set_streaming(False)
    assert net.pm() is None and w.connected()
    assert "warning" not in [lvl for lvl, _ in log.lines]
