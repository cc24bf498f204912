"""The emulator offers what each firmware offers (issue 9): modules, names, keywords and the
behaviours the firmware profiles (tools/sim/profiles) record, checked with small scripts on
the emulated camera (camera bus only: tests/camkit.py) or the whole emulated board."""
import ast

import pytest

from tools.sim import profiles
from tools.sim.board import Board, Options

from .camkit import board, run
from .simkit import make_app, results, running

FW452, FW459, FW4620, FW47, FW48, FW50 = ((4, 5, 2), (4, 5, 9), (4, 6, 20), (4, 7, 0),
                                          (4, 8, 1), (5, 0, 0))


@pytest.mark.parametrize("fw,kind", [(FW452, "ImportError"), (FW459, "ImportError"),
                                     (FW4620, "sensor"), (FW47, "sensor"), (FW48, "CSI"),
                                     (FW50, "CSI")])
def test_import_csi_per_firmware(fw, kind, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            import sensor
            try:
                import csi
            except ImportError as e:
                R("kind", "ImportError")
                csi = None
            if csi:
                R("kind", "CSI" if hasattr(csi, "CSI") else "sensor")
                R("csi.CSI", err(lambda: csi.CSI))
                R("legacy", [callable(getattr(csi, "set_framesize", None)), csi.HD == sensor.HD])
                import csi as again
                R("same", again is sensor)
        """, tmp_path)
    assert out["kind"] == kind
    if kind == "sensor":
        # 4.6-4.7 register the legacy module a second time under the name csi
        assert out["csi.CSI"][0] == "AttributeError"
        assert out["legacy"] == [True, True] and out["same"] is True


CSI_KEYWORDS = """
    import csi
    R("stream", err(csi.CSI, stream=False))
    R("fb_size", err(csi.CSI, fb_size=1 << 20))
    R("positional", err(csi.CSI, -1))
    c = csi.CSI()
    c.reset()
    c.pixformat(csi.JPEG)
    c.framesize(csi.QVGA)
    R("update", err(c.snapshot, update=True))
"""


def test_csi_keywords_on_4_8_have_no_stream(tmp_path):
    with board(FW48) as (cam, srv):
        out = run(srv, CSI_KEYWORDS, tmp_path)
    assert out["stream"] == ["TypeError", "unexpected keyword argument 'stream'"]
    assert out["fb_size"] is None and out["update"] is None
    assert out["positional"][0] == "TypeError"       # every CSI() argument is keyword-only


def test_csi_keywords_on_5_0_have_stream(tmp_path):
    with board(FW50) as (cam, srv):
        out = run(srv, CSI_KEYWORDS, tmp_path)
    assert out["stream"] is None
    assert out["fb_size"] == ["TypeError", "unexpected keyword argument 'fb_size'"]
    assert out["update"] == ["TypeError", "unexpected keyword argument 'update'"]


@pytest.mark.parametrize("fw,disable_fb", [(FW452, True), (FW47, True), (FW48, False),
                                           (FW50, False)])
def test_omv_versions_are_int_constants(fw, disable_fb, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            import omv
            R("v", [omv.version_major, omv.version_minor, omv.version_patch])
            R("call", err(lambda: omv.version_major()))
            R("string", omv.version_string())
            R("disable_fb", hasattr(omv, "disable_fb"))
        """, tmp_path)
    assert out["v"] == list(fw)
    assert out["call"][0] == "TypeError"             # an int, not a function
    assert out["string"] == "%d.%d.%d" % fw
    assert out["disable_fb"] is disable_fb


JPEG_SCRIPT = """
    import sensor, image
    R("consts", [n for n in ("JPEG_SUBSAMPLING_AUTO", "JPEG_SUBSAMPLING_422") if hasattr(image, n)])
    sensor.reset()
    sensor.set_pixformat(sensor.RGB565)
    sensor.set_framesize(sensor.QVGA)
    for q in (90, 50):
        R("q%d" % q, err(sensor.snapshot().to_jpeg, quality=q, subsampling=0x21))
"""


def test_jpeg_subsampling_absent_up_to_4_5_3(tmp_path):
    # No JPEG_SUBSAMPLING_* and no subsampling keyword: to_jpeg reads its keywords one by one
    # and ignores this one, and the encoder picks by quality: 4:4:4 at 90, 4:2:2 at 50.
    with board(FW452) as (cam, srv):
        out = run(srv, JPEG_SCRIPT, tmp_path)
        subs = [r.subsampling for r in cam.frames_of("to_jpeg")]
    assert out["consts"] == []
    assert out["q90"] is None and out["q50"] is None
    assert subs == [0x11, 0x21]


def test_jpeg_subsampling_honoured_from_4_5_4(tmp_path):
    with board((4, 5, 4)) as (cam, srv):
        out = run(srv, JPEG_SCRIPT, tmp_path)
        subs = [r.subsampling for r in cam.frames_of("to_jpeg")]
    assert out["consts"] == ["JPEG_SUBSAMPLING_AUTO", "JPEG_SUBSAMPLING_422"]
    assert subs == [0x21, 0x21]


@pytest.mark.parametrize("fw,pm", [(FW452, False), (FW459, True), (FW50, True)])
def test_wlan_power_modes_per_firmware(fw, pm, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            import network
            R("pm", hasattr(network.WLAN, "PM_NONE"))
            R("value", getattr(network.WLAN, "PM_POWERSAVE", None))
            R("stat", hasattr(network, "STAT_GOT_IP"))
            R("kw", err(network.WLAN, interface=network.STA_IF))
        """, tmp_path)
    assert out["pm"] is pm
    if pm:   # the CYW43 driver's value, not a guess
        assert out["value"] == profiles.load("%d.%d.%d" % fw)["modules"]["network"][
            "classes"]["WLAN"]["constants"]["PM_POWERSAVE"]
    assert out["stat"] is False                  # the firmware names no link states
    assert out["kw"][0] == "TypeError"           # WLAN(interface) is positional only


@pytest.mark.parametrize("fw,hd", [(FW47, 33), (FW48, 34), (FW50, 34)])
def test_framesize_values_follow_the_firmware(fw, hd, tmp_path):
    # 4.8 added FRAMESIZE_CUSTOM = 1: every later size moved up by one
    with board(fw) as (cam, srv):
        out = run(srv, """
            import sensor
            sensor.reset()
            sensor.set_pixformat(sensor.GRAYSCALE)
            sensor.set_framesize(sensor.HD)
            img = sensor.snapshot()
            R("hd", [sensor.HD, img.width(), img.height()])
        """, tmp_path)
    assert out["hd"] == [hd, 1280, 720]


@pytest.mark.parametrize("fw,limit", [(FW452, 2**31), (FW47, 2**31), (FW50, 2**32)])
def test_gmtime_overflow_per_firmware(fw, limit, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            import time
            R("below", time.gmtime(%d)[0])
            R("at", err(time.gmtime, %d))
            R("2038", err(time.gmtime, 2**31))
            R("float", err(time.localtime, 1.5))
        """ % (limit - 1, limit), tmp_path)
    assert out["below"] == (2038 if limit == 2**31 else 2106)
    assert out["at"] == ["OverflowError", "overflow converting long int to machine word"]
    assert (out["2038"] is None) == (limit > 2**31)
    assert out["float"] == ["TypeError", "can't convert float to int"]


def test_ticks_wrap_at_2_power_30(tmp_path):
    with board(FW50) as (cam, srv):
        out = run(srv, """
            import time
            R("now", time.ticks_ms() < 2**30 and time.ticks_us() < 2**30)
            R("add", time.ticks_add(2**30 - 1, 2))
            R("diff", time.ticks_diff(1, 2**30 - 1))
            R("far", err(time.ticks_add, 0, 2**29))
        """, tmp_path)
    assert out == {"now": True, "add": 1, "diff": 2,
                   "far": ["OverflowError", "ticks interval overflow"]}


# -- on the whole board -----------------------------------------------------------------

BUILTINS = """
    import os, sys
    out = {}
    for name in ("vfs", "deflate", "uos"):
        try:
            m = __import__(name)
            out[name] = "ok"
        except ImportError:
            out[name] = "ImportError"
    import uos, utime, time
    out["uos is os"] = uos is os and utime is time   # u-names find the firmware's modules
    out["os"] = [n for n in ("mount", "VfsFat", "urandom", "sync", "getenv", "system")
                 if hasattr(os, n)]
    out["sync"] = os.sync() if hasattr(os, "sync") else "-"
    out["path"] = "/lib" in sys.path or "/flash/lib" in sys.path
    print("RESULT", repr(out))
"""


@pytest.mark.parametrize("fw,vfs,names", [
    ("4.5.2", "ImportError", ["mount", "VfsFat"]),
    ("5.0", "ok", ["mount", "VfsFat", "urandom", "sync"]),
])
def test_builtin_modules_per_firmware(tmp_path, fw, vfs, names):
    app = make_app(tmp_path / "app", main=BUILTINS)
    with running(app, tmp_path / "run", firmware=fw) as b:
        out = ast.literal_eval(results(b))
    assert out["vfs"] == vfs and out["deflate"] == vfs      # both new in MicroPython 1.21+
    assert out["uos"] == "ok" and out["uos is os"] is True
    assert out["os"] == names                  # never the unix port's getenv/system
    assert out["sync"] in (None, "-") and out["path"] is True


def test_sdcard_blocks_return_eio_instead_of_raising(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import machine, time
        sd = machine.SDCard(1)
        buf = bytearray(512)
        print("RESULT", sd.readblocks(0, buf), buf[510], buf[511])
        r = 0
        for i in range(500):                   # until the host breaks the card (<= 10 s)
            r = sd.readblocks(0, buf)
            if r:
                break
            time.sleep_ms(20)
        print("RESULT2", r, sd.writeblocks(0, buf))
        for i in range(500):                   # until the card is pulled out (<= 10 s)
            if not sd.present():
                break
            time.sleep_ms(20)
        print("RESULT3", sd.readblocks(0, buf), sd.writeblocks(0, buf))
    """)
    with running(app, tmp_path / "run") as b:
        assert results(b) == "0 85 170"        # a healthy read returns 0: boot sector read
        b.sd.set_fault("read_errors")
        assert results(b, "RESULT2") == "-5 0"
        b.sd.remove()
        assert results(b, "RESULT3") == "-5 -5"   # a pulled card: numbers, no exception


def test_ticks_start_near_the_wrap_and_run_on_across_a_soft_reset(tmp_path):
    start = 2**30 - 1500
    app = make_app(tmp_path / "app", boot="""
        import machine, time
        print("BOOT", time.ticks_ms(), machine.reset_cause())
    """, main="""
        import machine, time
        t0 = time.ticks_ms()
        t = t0
        for i in range(500):                   # until the counter wraps (<= 5 s)
            t = time.ticks_ms()
            if t < t0:
                break
            time.sleep_ms(10)
        print("RESULT", t0, t, time.ticks_diff(t, t0))
        machine.soft_reset()                   # no hardware reset: the counter runs on
    """)
    with running(app, tmp_path / "run", ticks_start_ms=start) as b:
        t0, t1, diff = map(int, results(b).split())
        again, cause = map(int, b.wait_console("BOOT ", start=b.console.index(
            "RESULT %d %d %d" % (t0, t1, diff))).split()[1:])
        assert ", ticks_ms %d," % start in [t for _, k, t in b.events if k == "boot"][0]
    assert start <= t0 < 2**30 and 0 <= t1 < 1000     # it started where asked, then wrapped
    assert 0 < diff < 2500 and diff == (t1 - t0) % 2**30
    assert t1 <= again < 10000                 # after the soft reset: on from there, not anew
    assert cause == 1    # a soft reset leaves the last hardware reset's record: power-on


def test_every_firmware_name_selects_its_profile(tmp_path):
    for name in ["4.5", "4.6", "4.7", "4.8", "5.0"] + profiles.names():
        b = Board(Options(firmware=name, workdir=tmp_path, echo=False))
        try:
            assert b.firmware == tuple(profiles.load(name)["firmware"])
            assert b.camera.profile is b.profile
        finally:
            b.stop()
    with pytest.raises(ValueError):
        Board(Options(firmware="4.9", workdir=tmp_path, echo=False))


@pytest.mark.parametrize("fw,heap_kb", [("4.5.2", 280), ("4.5.4", 284), ("5.0", 8 * 1024)])
def test_gc_heap_per_firmware(tmp_path, fw, heap_kb):
    # 4.5.0-4.5.5 have one 280 KB heap in DTCM and no SDRAM heap: big buffers fail there.
    # The app finds its heap in one piece, as on the camera (the emulator's own modules, C
    # there, stay out of it): 90% of what is free fits in one buffer.
    app = make_app(tmp_path / "app", main="""
        import gc
        gc.collect()
        free = gc.mem_free()
        try:
            b = bytearray(free * 9 // 10)
            whole = "one-piece"
        except MemoryError:
            whole = "fragmented"
        b = None
        gc.collect()
        try:
            b = bytearray(400 * 1024)
            big = "ok"
        except MemoryError:
            big = "MemoryError"
        print("RESULT", free // 1024, big, whole)
    """)
    with running(app, tmp_path / "run", firmware=fw) as b:
        free_kb, big, whole = results(b).split()
    assert whole == "one-piece"
    # the 64-bit port's objects are larger: the first CODE_HEAP bytes count HEAP_FACTOR_32 times
    from tools.sim.board import CODE_HEAP, HEAP_FACTOR_32
    heap_kb += min(heap_kb, CODE_HEAP // 1024) * (HEAP_FACTOR_32 - 1)
    assert heap_kb * 0.9 < int(free_kb) <= heap_kb * 1.1
    assert big == ("MemoryError" if heap_kb < 400 else "ok")


NTP_1995, NTP_1963 = 3000000000, 2000000000   # NTP answers from before 2024


def _ntp_server(answer):
    import socket
    import struct
    import threading
    srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv.bind(("127.0.0.1", 0))
    srv.settimeout(20)

    def serve():
        for _ in range(2):                     # ntptime.time(), then settime()
            try:
                _, addr = srv.recvfrom(48)
            except OSError:
                return
            reply = bytearray(48)
            reply[0] = 0x24
            struct.pack_into("!I", reply, 40, answer)
            srv.sendto(bytes(reply), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


@pytest.mark.parametrize("fw,answer,era,settime,year", [
    ("4.5.2", NTP_1995, 0, "ok", 1995),        # no era mapping: 1995 as answered
    ("4.7", NTP_1995, 2**32, "OverflowError", 2013),   # past 2036, gmtime overflows at 2**31
    ("4.7", NTP_1963, 2**32, "OverflowError", 2013),
    ("5.0", NTP_1995, 2**32, "OverflowError", 2013),   # past 2106: beyond 5.0's 2**32 too
    ("5.0", NTP_1963, 2**32, "ok", 2099),      # 2036..2106: 5.0 sets it
])
def test_frozen_ntptime_per_firmware(tmp_path, fw, answer, era, settime, year):
    srv, thread = _ntp_server(answer)
    app = make_app(tmp_path / "app", main="""
        import ntptime, time
        ntptime.host = "127.0.0.1"
        t = ntptime.time()
        try:
            ntptime.settime()
            r = "ok"
        except OverflowError:
            r = "OverflowError"
        print("RESULT", t, r, time.localtime()[0])
    """)
    try:
        with running(app, tmp_path / "run", firmware=fw, ntp_port=srv.getsockname()[1]) as b:
            t, r, got_year = results(b).split()
    finally:
        srv.close()
        thread.join(5)
    assert int(t) == answer + era - 2208988800
    assert (r, int(got_year)) == (settime, year)   # 2013: the RTC as it was (never set)
