# Native code that cannot brick the camera: which path rtspd's primitives take (rtspd.fast),
# decided once per start, before any of its machine code runs.
#
# Why: viper code is compiled at run time into the GC heap, which on the OpenMV Cam RT1062
# spans OCRAM, DTCM and SDRAM (used in that order), so where the code lands changes from one
# start to the next. Whether the Cortex-M7 fetches instructions from every part of it is not
# settled by the firmware sources. A fault there is no exception: OpenMV's mimxrt firmware
# (4.8.1, 5.0.0) has no HardFault handler of its own, the weak default of
# lib/cmsis/src/mimxrt/startup_MIMXRT1062.S branches to itself, so the camera hangs until the
# watchdog (armed before this runs) resets it, or until the power is cut.
#
# How: before the first call of machine code a marker file goes on the internal flash (always
# there, unlike the card); every primitive then runs once (fast.probe(), which also checks it
# against the plain-Python one) and the marker is removed. A start that finds the marker knows
# the last one ended inside machine code: it writes a verdict file and streams with the plain-
# Python path for good, saying why at every start. Costs two small flash writes per start
# while machine code is in use.
#
# rtsp.native in config.json: "auto" (the above), "on" (machine code even after a fault),
# "off" (plain Python; nothing written).
from rtspd import fast

MARKER = "rtspd_native.run"     # exists only while machine code runs for the first time
VERDICT = "rtspd_native.off"    # the camera reset inside machine code once: plain Python
MODES = ("auto", "on", "off")


def choose(mode, folder, fs, log):
    """Pick rtspd's code path; returns True when machine code is in use.
    mode: "auto" | "on" | "off"; folder: the internal flash drive (or the only drive);
    fs: the app's storage helpers (join, exists, read_file, write_atomic, remove_quiet);
    log: a logger (info/warning/error)."""
    if mode == "off":
        fast.use(False)
        log.info("rtsp: plain-Python send path (rtsp.native is \"off\")")
        return False
    if not folder:
        if mode == "on":
            return fast.use(True)
        fast.use(False)
        log.warning("rtsp: no drive for the native-code marker: plain-Python send path")
        return False
    marker = fs.join(folder, MARKER)
    verdict = fs.join(folder, VERDICT)
    found = fs.exists(marker)
    if found:
        why = ("the camera reset while running native code for the first time (at the start "
               "before this one): the send path is plain Python from now on. To try native "
               "code again, delete %s or set rtsp.native to \"on\"" % verdict)
        _write(fs, verdict, why + "\n", log)
        fs.remove_quiet(marker)
        log.error("rtsp: %s", why)
    if mode == "auto" and (found or fs.exists(verdict)):
        if not found:
            why = (fs.read_file(verdict) or "").strip() or "found " + verdict
            log.warning("rtsp: plain-Python send path: %s", why)
        fast.use(False)
        return False
    if mode == "on" and fs.exists(verdict):
        log.warning("rtsp: rtsp.native is \"on\": native code despite %s", verdict)
    return _try(fs, marker, log)


def _try(fs, marker, log):
    if not fast.use(True):
        log.warning("rtsp: no native code emitter in this firmware: plain-Python send path")
        return False
    if not _write(fs, marker, "native code probe: if this file is here at the next start, "
                  "the camera reset inside native code\n", log):
        fast.use(False)     # no marker, no safety net: do not run machine code
        log.warning("rtsp: cannot leave the native-code marker on flash: plain-Python path")
        return False
    try:
        ok = fast.probe()   # the first call of machine code: a fault here never returns
    except MemoryError:     # its test buffers (a few KB) found no room: nothing was tried
        fs.remove_quiet(marker)
        fast.use(False)
        log.warning("rtsp: too little free RAM for the native code self-test: plain-Python "
                    "send path")
        return False
    except Exception as e:
        log.error("rtsp: native code failed its self-test (%r): plain-Python send path", e)
        ok = False
    fs.remove_quiet(marker)
    if not ok:
        fast.use(False)
        log.error("rtsp: native code gave other results than the plain-Python code: "
                  "plain-Python send path")
        return False
    log.info("rtsp: native send path")
    return True


def _write(fs, path, text, log):
    try:
        fs.write_atomic(path, text)
        return True
    except OSError as e:
        log.error("rtsp: cannot write %s (%s)", path, e)
        return False
