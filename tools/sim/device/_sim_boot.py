# The emulated firmware's boot sequence (what OpenMV's frozen _boot.py and main loop do):
# mount internal flash and the SD card as the chosen firmware version lays them out, change
# directory, run boot.py, then main.py, then sit at the REPL. The firmware profile says
# which layout and whether a failing boot.py skips main.py (tools/sim/device/_profile.py).
import sys
import os
import vfs
import json
import _bus

info = json.loads(_bus.call("board_info"))

vfs.umount("/")
# The frozen modules of the emulated firmware (this directory) stay reachable at /.sim
vfs.mount(vfs.VfsPosix(info["device_dir"]), "/.sim")
sys.path[:] = ["", ".frozen", "/.sim"]
import _profile
import time         # starts the emulated ticks counter where the board says it is
import _heap
_heap.carve(info["app_heap"])   # frame buffers, then the app's heap: before the rest of ours

# 4.6+: /flash and /sdcard; 4.5: one drive at / (source: the profile's "layout")
LAYOUT_SPLIT = _profile.top()["layout"] == "split"

import mimxrt
import machine


def _mount_flash(where):
    try:
        vfs.mount(vfs.VfsFat(mimxrt.Flash()), where)
        return True
    except OSError:
        # OpenMV silently re-formats a corrupt flash file system with a default main.py
        print("flash: file system corrupt, formatting")
        dev = mimxrt.Flash()
        vfs.VfsFat.mkfs(dev)
        vfs.mount(vfs.VfsFat(dev), where)
        with open(where.rstrip("/") + "/main.py", "w") as f:
            f.write("import time, machine\nled = machine.LED('LED_BLUE')\n"
                    "while True:\n    led.toggle()\n    time.sleep_ms(500)\n")
        return True


def _mount_sd(where):
    sd = machine.SDCard(1)
    if not sd.present():
        return False
    try:
        vfs.mount(vfs.VfsFat(sd), where)
        return True
    except OSError:
        return False          # any SD failure is silent on OpenMV


def _mount_all():
    if LAYOUT_SPLIT:
        _mount_flash("/flash")
        sys.path.extend(["/flash", "/flash/lib"])
        os.chdir("/flash")
        skip = False
        try:
            os.stat("/flash/SKIPSD")
            skip = True
        except OSError:
            pass
        if not skip and _mount_sd("/sdcard"):
            sys.path.extend(["/sdcard", "/sdcard/lib"])
            os.chdir("/sdcard")
    else:
        if not _mount_sd("/"):
            _mount_flash("/")
        sys.path.append("/lib")
        os.chdir("/")


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return True
    g = {"__name__": "__main__", "__file__": name}
    try:
        with open(name) as f:
            code = compile(f.read(), name, "exec")
        exec(code, g)
        return True
    except KeyboardInterrupt:
        raise
    except SystemExit as e:
        sys.print_exception(e)
        return "exit"
    except BaseException as e:
        sys.print_exception(e)
        return False


def _skips_main(ok):
    # Profile facts: an exception in boot.py skips main.py (4.5.1 on); sys.exit() in boot.py
    # skips it too up to 4.8 but not on 5.0 (main_skipped_when_boot_py_exits, when known).
    raises = _profile.fact("main_skipped_when_boot_py_raises")
    if ok == "exit":
        return _profile.fact("main_skipped_when_boot_py_exits", raises)
    return not ok and raises


def main():
    _mount_all()
    import _imports
    _imports.install()      # from here the app imports the firmware's builtins, not unix's
    if info.get("native_fault"):
        import _native_fault
        _native_fault.install()     # the app's native code faults (board option native_fault)
    import _repl
    _heap.load(_imports)
    _heap.release()         # the app's heap, in one piece, nothing of ours in it
    try:
        _repl.begin()       # from here Ctrl-C on the serial port interrupts the scripts
        ok = _run("boot.py") if info.get("run_boot", True) else True
        if _skips_main(ok):
            print("boot.py failed: main.py not run")
        elif info["run_main"]:
            _run("main.py")
        _repl.settle()
    except KeyboardInterrupt as e:
        _repl.interrupted(e)    # like the firmware: traceback, then the REPL
    _bus.call("repl")       # tell the host the script ended; the board now idles at the REPL
    _repl.run()


main()
