"""Native code that faults on the camera (emulator option native_fault: the first call of the
app's viper code hangs the core, as the firmware's HardFault handler does) must not brick it:
the watchdog resets it, the next start streams with the plain-Python path and says why, and
so does every start after that; rtsp.native forces either path."""
from tools.sim import storage

from . import appkit, simkit

WDT = {"watchdog": {"enabled": True, "timeout_s": 5}}


def faults(board):
    return [t for _, k, t in board.events if k == "fault"]


def boots(board):
    return [t for _, k, t in board.events if k == "boot"]


def test_a_fault_in_native_code_means_plain_python_from_the_next_start(tmp_path):
    with appkit.app(tmp_path, WDT, wait_url=False, native_fault=True) as (b, _):
        b.wait_for(lambda k, t: k == "fault" and "rtspd._viper" in t, timeout=60)
        b.wait_for(lambda k, t: k == "watchdog" and "starved" in t, timeout=20)
        start = b.wait_for(lambda k, t: k == "boot" and "watchdog" in t, timeout=10)
        url = appkit.stream_url(b, timeout=60)
        frames = appkit.decode_frames(url, 10)
        assert len(frames) == 10 and frames[0].shape == (720, 1280, 3)
        b.wait_console("reset while running native code", timeout=5)
        assert len(faults(b)) == 1                  # the plain-Python path runs no machine code
        verdict = storage.read_file(b.flash_image, "rtspd_native.off").decode()
        assert "reset while running native code" in verdict
        assert storage.read_file(b.flash_image, "rtspd_native.run") is None
        # the start after that (a power cycle here) stays on the plain-Python path and says why
        seen = len(b.console)
        b.power_cycle()
        b.wait_for(lambda k, t: k == "boot" and "power-on" in t, timeout=20, start=start + 1)
        line = b.wait_console("plain-Python send path", timeout=60, start=seen)
        assert "reset while running native code" in line
        url = appkit.stream_url(b, timeout=60, start=seen)
        assert len(appkit.decode_frames(url, 5)) == 5
        assert len(faults(b)) == 1


def test_native_off_streams_at_once_on_a_board_that_would_fault(tmp_path):
    changes = dict(WDT, rtsp={"native": "off"})
    with appkit.app(tmp_path, changes, native_fault=True) as (b, url):
        assert len(appkit.decode_frames(url, 5)) == 5
        assert faults(b) == [] and len(boots(b)) == 1
        assert storage.read_file(b.flash_image, "rtspd_native.run") is None
        assert storage.read_file(b.flash_image, "rtspd_native.off") is None


def test_native_code_runs_where_it_does_not_fault(tmp_path):
    with appkit.app(tmp_path, WDT) as (b, url):
        assert len(appkit.decode_frames(url, 5)) == 5
        b.wait_console("native send path", timeout=5)
        assert len(boots(b)) == 1
        assert storage.read_file(b.flash_image, "rtspd_native.run") is None


def test_the_emulated_fault_hits_native_code_of_imported_modules_only(tmp_path):
    # the emulator knows no module of ours: any native or viper function (or method) of any
    # imported module hangs the core on its first call; bytecode and the firmware's own
    # modules (machine here) run as usual
    app = simkit.make_app(tmp_path / "app", main="""
        import machine
        import mod
        print("RESULT", mod.plain(2))
        w = machine.WDT(timeout=1000)
        if machine.reset_cause() == machine.WDT_RESET:
            mod.vip(1)
        else:
            mod.C().meth()
        print("AFTER")
        """, lib={"mod.py": """
        import micropython

        def plain(x):
            return x * 21

        @micropython.viper
        def vip(x: int) -> int:
            return x + 1

        class C:
            @micropython.native
            def meth(self):
                return 1
        """})
    with simkit.running(app, tmp_path / "run", native_fault=True) as b:
        assert simkit.results(b) == "42"
        b.wait_for(lambda k, t: k == "fault" and "mod.C.meth" in t, timeout=20)
        b.wait_for(lambda k, t: k == "boot" and "watchdog" in t, timeout=10)
        b.wait_for(lambda k, t: k == "fault" and "(mod.vip)" in t, timeout=20)
        assert not any("AFTER" in line for line in b.console)
