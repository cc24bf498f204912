"""The emulated board: boot sequence and storage layouts per firmware, resets, deep sleep,
watchdog, RTC, LED, WiFi and SD faults, as the firmware sees them through its own modules."""
import ast
import calendar
import struct
import subprocess
import sys
import time

import pytest

from tools.sim import storage
from tools.sim.board import RTC_LOST

from .simkit import make_app, results, running

LAYOUT_MAIN = """
import os, sys
print("RESULT", repr((os.getcwd(), sorted(os.listdir("/")), sorted(os.listdir()), sys.path)))
"""


@pytest.mark.parametrize("fw,cwd,root", [
    ("4.5", "/", ["boot.py", "config.json", "main.py"]),
    ("4.8", "/sdcard", ["flash", "sdcard"]),
    ("5.0", "/sdcard", ["flash", "sdcard"]),
])
def test_storage_layout_per_firmware(tmp_path, fw, cwd, root):
    app = make_app(tmp_path / "app", main=LAYOUT_MAIN)
    with running(app, tmp_path / "run", firmware=fw) as b:
        got_cwd, got_root, here, path = ast.literal_eval(results(b))
    assert got_cwd == cwd
    assert [n for n in got_root if n != ".sim"] == root
    assert "main.py" in here
    if fw != "4.5":
        assert path.index("/flash/lib") < path.index("/sdcard/lib")


@pytest.mark.parametrize("fw,cwd", [("4.5", "/"), ("4.8", "/flash"), ("5.0", "/flash")])
def test_without_card_the_flash_copy_runs(tmp_path, fw, cwd):
    app = make_app(tmp_path / "app", main=LAYOUT_MAIN)
    with running(app, tmp_path / "run", firmware=fw, sd_fault="no_card") as b:
        got_cwd, got_root, here, _ = ast.literal_eval(results(b))
        assert any(k == "storage" and "no_card" in t for _, k, t in b.events)
    assert got_cwd == cwd
    assert "sdcard" not in got_root
    assert "main.py" in here


@pytest.mark.parametrize("fw", ["4.5.2", "4.8", "5.0"])
def test_boot_py_exception_skips_main(tmp_path, fw):
    # Every firmware runs boot.py re-raising, and a failed boot.py skips main.py (profile
    # fact main_skipped_when_boot_py_raises; the emulator used to run main.py before 5.0).
    app = make_app(tmp_path / "app", boot="raise ValueError('broken boot')\n",
                   main="print('RESULT main ran')\n")
    with running(app, tmp_path / "run", firmware=fw) as b:
        b.wait_for(lambda k, t: k == "repl", timeout=15)
        time.sleep(0.2)
        ran = any("RESULT main ran" in line for line in b.console)
        assert any("broken boot" in line for line in b.console)
    assert not ran


def test_deep_sleep_wake_reads_reset_cause_4_and_rtc_runs_on(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine, time
        print("RESULT", machine.reset_cause(), time.time())
        if machine.reset_cause() == machine.PWRON_RESET and time.time() < 1400000000:
            machine.RTC().datetime((2030, 1, 2, 3, 4, 5, 6, 0))
            machine.deepsleep(20000)
    """)
    with running(app, tmp_path / "run", time_scale=0.05) as b:
        first = results(b).split()
        b.wait_for(lambda k, t: k == "wake", timeout=10)
        idx = b.wait_for(lambda k, t: k == "boot" and "#2" in t, timeout=10)
        line = b.wait_console("RESULT", start=1)
        assert b.events[idx][2].endswith("reset cause deep-sleep wake")
    cause, secs = line.split()[1:]
    assert first[0] == "1" and int(first[1]) == RTC_LOST or int(first[1]) - RTC_LOST < 5
    assert cause == "4"                       # DEEPSLEEP_RESET (a number without a name)
    set_at = calendar.timegm((2030, 1, 2, 4, 5, 6))   # the time set just before sleeping
    assert 20 <= int(secs) - set_at <= 30     # the RTC counted the whole 20 s of sleep


def test_reset_cause_stays_4_after_a_wake_until_power_is_removed(tmp_path):
    # The SRC user-reset flag a wake sets survives every reset but a power loss: the
    # watchdog reset after a wake still reads 4, the boot after a power cycle reads 1.
    app = make_app(tmp_path / "app", main="""
        import machine, time
        n = 0
        try:
            with open("n.txt") as f:
                n = int(f.read())
        except OSError:
            pass
        with open("n.txt", "w") as f:
            f.write(str(n + 1))
        print("RESULT", n, machine.reset_cause())
        if n == 0:
            machine.deepsleep(1000)
        elif n == 1:
            machine.WDT(timeout=500)
            while True:
                time.sleep_ms(100)            # starve it
    """)
    with running(app, tmp_path / "run", time_scale=0.05) as b:
        assert results(b) == "0 1"
        assert b.wait_console("RESULT 1 ") == "RESULT 1 4"          # woke from deep sleep
        assert b.wait_console("RESULT 2 ") == "RESULT 2 4"          # watchdog, still 4
        boots = [t for _, k, t in b.events if k == "boot"]
        assert boots[2].endswith("(reset_cause() reads 4), reset cause watchdog")
        b.power_cycle()
        assert b.wait_console("RESULT 3 ", timeout=20) == "RESULT 3 1"   # power-on again
def test_p11_edge_wakes_early_and_subsecond_sleep_waits_for_it(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine
        print("RESULT", machine.reset_cause())
        machine.deepsleep(500)
    """)
    with running(app, tmp_path / "run", time_scale=1.0) as b:
        b.wait_for(lambda k, t: k == "sleep", timeout=10)
        assert "P11 wake only" in b.events[-1][2]
        time.sleep(1.5)
        assert b.boots == 1                   # < 1 s arms no timer: still asleep
        b.pulse_p11()
        b.wait_for(lambda k, t: k == "wake" and "P11" in t, timeout=5)
        b.wait_for(lambda k, t: k == "boot" and "#2" in t, timeout=5)


def test_starved_watchdog_resets_the_board(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine, time
        print("RESULT", machine.reset_cause())
        if machine.reset_cause() != machine.WDT_RESET:
            wdt = machine.WDT(timeout=600)
            for i in range(5):
                wdt.feed(); time.sleep_ms(100)
            while True:
                time.sleep_ms(100)          # hung: no more feeding
    """)
    with running(app, tmp_path / "run") as b:
        assert results(b) == "1"
        # the WDOG counts half seconds: 600 ms is rounded down, never refused
        b.wait_for(lambda k, t: k == "watchdog" and t == "armed, 500 ms", timeout=10)
        b.wait_for(lambda k, t: k == "watchdog" and "starved" in t, timeout=10)
        line = b.wait_console("RESULT", start=1 + b.console.index("RESULT 1"))
    assert line == "RESULT 3"                 # WDT_RESET


def test_machine_reset_keeps_rtc_and_power_loss_resets_it_to_2013(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine, time
        t = time.localtime()
        print("RESULT", machine.reset_cause(), t[0])
        if t[0] == 2013 and machine.reset_cause() == machine.PWRON_RESET:
            machine.RTC().datetime((2031, 5, 6, 1, 7, 8, 9, 0))
            machine.reset()
    """)
    with running(app, tmp_path / "run") as b:
        assert results(b) == "1 2013"
        assert b.wait_console("RESULT 5 ") == "RESULT 5 2031"
        n = len(b.console)
        b.power_cycle()
        b.wait_for(lambda k, t: k == "boot" and "#3" in t)
        assert b.wait_console("RESULT", start=n) == "RESULT 1 2013"


def test_led_changes_are_events(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine, time
        r = machine.LED("LED_RED"); g = machine.LED("LED_GREEN")
        r.on(); g.on(); r.off(); g.toggle(); g.toggle()
        print("RESULT done")
    """)
    with running(app, tmp_path / "run") as b:
        results(b)
        leds = [t for _, k, t in b.events if k == "led"]
        assert b.leds["LED_GREEN"] == 1 and b.leds["LED_RED"] == 0
    assert leds == ["red on", "green on", "red off", "green off", "green on"]


WIFI_MAIN = """
    import network, time
    w = network.WLAN(network.STA_IF); w.active(True)
    w.connect("home", "secret-key")
    first = w.status()
    t0 = time.ticks_ms()
    while w.status() in (1, 2) and time.ticks_diff(time.ticks_ms(), t0) < 2000:
        time.sleep_ms(20)
    print("RESULT", first, w.status(), w.isconnected())
"""


@pytest.mark.parametrize("fault,final", [("none", "3 True"), ("no_ap", "-2 False"),
                                         ("wrong_password", "-3 False"), ("slow", "1 False")])
def test_wifi_connect_is_non_blocking_with_faults(tmp_path, fault, final):
    app = make_app(tmp_path / "app", main=WIFI_MAIN)
    with running(app, tmp_path / "run", wifi_fault=fault) as b:
        out = results(b)
        events = "\n".join(t for _, k, t in b.events if k == "wifi")
    assert out == "1 " + final
    assert "secret-key" not in events


def test_link_loss_breaks_sockets_and_reconnect_works(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import network, socket, time
        w = network.WLAN(network.STA_IF); w.active(True); w.connect("home", "k")
        while not w.isconnected():
            time.sleep_ms(20)
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
        print("RESULT up")
        while w.isconnected():
            time.sleep_ms(20)
        try:
            s.accept(); print("RESULT2 still-works")
        except OSError as e:
            print("RESULT2 broken", e.errno)
        w.connect("home", "k")
        while not w.isconnected():
            time.sleep_ms(20)
        print("RESULT3", w.ifconfig()[0])
    """)
    with running(app, tmp_path / "run") as b:
        results(b)
        b.wifi.drop(new_ip="127.0.0.2")
        assert results(b, "RESULT2").startswith("broken")
        assert results(b, "RESULT3") == "127.0.0.2"


SD_MAIN = """
    import machine, vfs, os
    sd = machine.SDCard(1)
    out = [sd.present()]
    try:
        vfs.mount(vfs.VfsFat(sd), "/probe")
        out.append("mounted")
        with open("/probe/p.bin", "wb") as f:
            f.write(b"x" * 4096)
        out.append("written")
        vfs.umount("/probe"); vfs.mount(vfs.VfsFat(sd), "/probe")
        out.append(open("/probe/p.bin", "rb").read() == b"x" * 4096)
    except OSError as e:
        out.append("OSError %d" % e.errno)
    print("RESULT", repr(out))
"""


@pytest.mark.parametrize("fault,expect", [
    ("none", [True, "mounted", "written", True]),
    ("no_card", [False, "OSError 19"]),
    ("unformatted", [True, "OSError 19"]),
    ("read_errors", [True, "OSError 5"]),
    ("write_errors", [True, "mounted", "OSError 5"]),
    ("read_only", [True, "mounted", "OSError 5"]),
    ("full", [True, "mounted", "OSError 28"]),
    ("bad_data", [True, "mounted", "written", "lost"]),
])
def test_sd_faults_at_block_level(tmp_path, fault, expect):
    app = make_app(tmp_path / "app", main=SD_MAIN)
    with running(app, tmp_path / "run", sd_fault=fault, firmware="4.8") as b:
        out = ast.literal_eval(results(b))
    if fault == "bad_data" and out[3] in (False, "OSError 2"):
        out[3] = "lost"                       # the data or even the file never reached the card
    if fault == "no_card":
        assert out[0] is False
    else:
        assert out == expect


def test_card_removed_while_running(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import time
        print("RESULT up")
        time.sleep_ms(300)
        try:
            with open("/sdcard/late.txt", "w") as f:
                f.write("x" * 2000)
            print("RESULT2 wrote")
        except OSError as e:
            print("RESULT2 OSError", e.errno)
    """)
    with running(app, tmp_path / "run") as b:
        results(b)
        b.sd.remove()
        assert results(b, "RESULT2").startswith("OSError")


def test_images_persist_and_stay_clean(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine
        n = 0
        try:
            with open("count.txt") as f:
                n = int(f.read())
        except OSError:
            pass
        with open("count.txt", "w") as f:
            f.write(str(n + 1))
        print("RESULT", n + 1)
        if n == 0:
            machine.reset()
    """)
    with running(app, tmp_path / "run") as b:
        assert results(b) == "1"
        assert b.wait_console("RESULT 2")
        image = b.sd_image
    assert storage.read_file(image, "count.txt") == b"2"
    fsck = subprocess.run([storage.tool("fsck.fat"), "-n", str(image)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


def test_heap_is_limited_like_the_camera(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import gc
        gc.collect()
        try:
            big = bytearray(9 * 1024 * 1024)
            print("RESULT allocated")
        except MemoryError:
            print("RESULT MemoryError")
    """)
    with running(app, tmp_path / "run") as b:
        assert results(b) == "MemoryError"


def test_ntptime_and_logging_frozen_modules(tmp_path):
    import socket
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(15)
    port = srv.getsockname()[1]
    app = make_app(tmp_path / "app", main="""
        import ntptime, time, logging
        ntptime.host = "127.0.0.1"
        ntptime.settime()
        logging.basicConfig(filename="app.log", format="%(levelname)s %(name)s %(message)s",
                            level=logging.INFO)
        log = logging.getLogger("cam")
        log.info("year %d", time.localtime()[0])
        log.debug("hidden")
        logging.shutdown()
        print("RESULT", time.localtime()[:3])
    """)
    with running(app, tmp_path / "run", ntp_port=port) as b:
        data, addr = srv.recvfrom(48)
        assert len(data) == 48 and data[0] & 0x07 == 3     # a client-mode NTP query
        reply = bytearray(48)
        reply[0] = 0x24
        struct.pack_into("!I", reply, 40, 1900000000 + 2208988800)   # 2030-03-17
        srv.sendto(bytes(reply), addr)
        assert results(b) == "(2030, 3, 17)"
        image = b.sd_image
    srv.close()
    assert storage.read_file(image, "app.log") == b"INFO cam year 2030\n"


def test_cli_help_documents_every_option():
    out = subprocess.run([sys.executable, "-m", "tools.sim", "--help"], capture_output=True,
                         text=True, timeout=30).stdout
    for opt in ("--port", "--config", "--firmware", "--sd-image", "--sd-fault", "--source",
                "--time-scale", "--wifi-fault", "--rtc"):
        assert opt in out
