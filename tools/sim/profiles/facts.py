# Behaviour facts of one firmware, read from its sources (used by extract.py only).
# Each fact: {"value": ..., "source": "file function @tag-or-commit", "note": "..."}.
# A fact whose source pattern is not found gets value None and a note saying so: the
# extractor never guesses.
import re

from tools.sim.profiles.cpp import Unknown, braced


def fact(value, source, note):
    return {"value": value, "source": source, "note": note}


def collect(ix, fw, mplib, prof):
    out = {}
    for fn in (reset_cause, sdcard_readblocks, gmtime_overflow, ntptime_pivot, numbers, boot_order,
               gc_heap, deepsleep, wdt_range, errno_values, pm_constants, framebuffer_pool,
               jpeg_auto_subsampling, mpy_version):
        out.update(fn(ix, fw, mplib, prof))
    return out


def _value(ix, name):
    try:
        return ix.pp.value(name)
    except (Unknown, Exception):
        return None


def _mp_file(ix, fw, *paths):
    for p in paths:
        if fw._has("mp/" + p):
            return ix.load("mp/" + p)
    return None


def reset_cause(ix, fw, mplib, prof):
    # 1.20-1.23: machine_reset_cause in ports/mimxrt/modmachine.c; 1.21+ moved the function
    # body to mp_machine_reset_cause (the file is included from extmod/modmachine.c).
    cf = _mp_file(ix, fw, "ports/mimxrt/modmachine.c")
    if cf is None:
        return {}
    for func in ("mp_machine_reset_cause", "machine_reset_cause"):
        body = cf.function_body(func)
        if body:
            break
    src = "%s %s" % (fw.cite(cf.vpath), func)
    m = re.search(r"SRC->SRSR\s*&\s*(\w+)\s*\)\s*\{\s*return\s+(?:MP_OBJ_NEW_SMALL_INT\()?\s*(\w+)", body or "")
    if not m:
        return {"reset_cause_after_deepsleep": fact(None, src, "pattern not found: check by hand")}
    value = ix.pp.enums.get(m.group(2))
    first = body.index("SRC->SRSR") < body.find("WDOG_GetStatusFlags")
    clears = fw.grep(r"SRC->SRSR\s*=|SRC_ClearResetStatusFlags|SRSR\s*\|=", "mp") + \
        fw.grep(r"SRC->SRSR\s*=|SRC_ClearResetStatusFlags", "omv", ("ports/", "common/", "boards/"))
    exported = sorted(n for n in prof["modules"]["machine"]["names"] if n.endswith("_RESET"))
    return {
        "reset_cause_after_deepsleep": fact(
            value, src,
            "returns %s (%s) whenever the SRC user-reset flag (%s) is set%s; the wake from deep "
            "sleep (SNVS power-off, mp_machine_deepsleep) sets it. No constant named %s is "
            "exported (machine exports %s)." % (value, m.group(2), m.group(1),
                                                ", before the watchdog flags are read" if first else "",
                                                m.group(2)[3:], ", ".join(exported))),
        "reset_cause_sticky": fact(
            not clears, src,
            "nothing in the MicroPython port or OpenMV clears SRC->SRSR%s, so the flag stays set "
            "until power is removed: after a deep-sleep wake, later watchdog and soft resets "
            "also report %s" % ((" (found: %s)" % clears) if clears else "", value)),
    }


def sdcard_readblocks(ix, fw, mplib, prof):
    cf = _mp_file(ix, fw, "ports/mimxrt/machine_sdcard.c")
    if cf is None:
        return {}
    body = cf.function_body("machine_sdcard_readblocks") or ""
    src = "%s machine_sdcard_readblocks" % fw.cite(cf.vpath)
    m = re.search(r"return\s+MP_OBJ_NEW_SMALL_INT\(\s*-\s*(MP_E\w+)\s*\)", body)
    if not m:
        raises = "mp_raise" in body
        return {"sdcard_readblocks_returns_eio": fact(False if raises else None, src,
                                                      "no negative errno return found")}
    return {"sdcard_readblocks_returns_eio": fact(
        m.group(1) == "MP_EIO", src,
        "a failed read returns -%s (a negative int: %s) instead of raising; the FAT driver "
        "turns it into OSError(EIO)" % (m.group(1)[3:], -(_value(ix, m.group(1)) or 5)))}


def gmtime_overflow(ix, fw, mplib, prof):
    cands = ["extmod/modtime.c", "ports/mimxrt/modutime.c", "extmod/modutime.c"]
    for p in cands:
        cf = _mp_file(ix, fw, p)
        if cf is None:
            continue
        body = cf.function_body("time_gmtime") or cf.function_body("time_localtime") or ""
        if "seconds" not in body:
            continue
        func = "time_gmtime" if cf.function_body("time_gmtime") else "time_localtime"
        src = "%s %s" % (fw.cite(cf.vpath), func)
        if re.search(r"mp_int_t\s+seconds\s*=\s*mp_obj_get_int\(", body):
            return {"gmtime_overflow_from": fact(
                2 ** 31, src,
                "seconds = mp_obj_get_int(arg): a 32-bit mp_int_t, so gmtime/localtime(x) raise "
                "OverflowError for x >= 2**31 (2038-01-19 with the 1970 epoch)")}
        if "timeutils_obj_get_timestamp" in body:
            impl = _value(ix, "MICROPY_TIMESTAMP_IMPL")
            uint = _value(ix, "MICROPY_TIMESTAMP_IMPL_UINT")
            if impl is not None and impl == uint:
                return {"gmtime_overflow_from": fact(
                    2 ** 32, src,
                    "timeutils_obj_get_timestamp with MICROPY_TIMESTAMP_IMPL_UINT (mp_obj_get_uint): "
                    "values up to 2**32-1 work (to 2106), 2**32 and above raise OverflowError")}
            return {"gmtime_overflow_from": fact(None, src, "64-bit timestamps: no overflow")}
    return {"gmtime_overflow_from": fact(None, "not found", "gmtime not found")}


def ntptime_pivot(ix, fw, mplib, prof):
    nt = prof["modules"].get("ntptime")
    if not nt:
        return {"ntptime_era_pivot_year": fact(None, "not frozen", "ntptime is not frozen")}
    path = nt["source"].split(":", 1)[1].split(" @")[0]
    src_text = mplib.show(path)
    src = "%s time @%s (%s)" % (path, mplib.commit[:10], mplib.via)
    m = re.search(r"MIN_NTP_TIMESTAMP\s*=\s*(\d+)", src_text)
    if not m:
        return {"ntptime_era_pivot_year": fact(
            None, src, "no era handling: an NTP value is taken as seconds since 1900 as is")}
    ntp = int(m.group(1))
    # NTP seconds -> year (1900 era): 3913056000 is 2024-01-01
    import datetime
    year = (datetime.datetime(1900, 1, 1) + datetime.timedelta(seconds=ntp)).year
    return {"ntptime_era_pivot_year": fact(
        year, src,
        "NTP seconds below MIN_NTP_TIMESTAMP=%d (%d-01-01) get 2**32 added (taken as the era "
        "after 2036-02-07); time() then returns val - NTP_DELTA, which can exceed 2**31, and "
        "settime() calls gmtime() on it" % (ntp, year))}


def numbers(ix, fw, mplib, prof):
    mpc = "micropython:py/mpconfig.h"
    repr_a = _value(ix, "MICROPY_OBJ_REPR") == _value(ix, "MICROPY_OBJ_REPR_A")
    bits = 31 if repr_a else None
    fl = _value(ix, "MICROPY_FLOAT_IMPL")
    kind = {_value(ix, "MICROPY_FLOAT_IMPL_FLOAT"): "single",
            _value(ix, "MICROPY_FLOAT_IMPL_DOUBLE"): "double"}.get(fl)
    period_macro = "MICROPY_PY_TIME_TICKS_PERIOD" if "MICROPY_PY_TIME_TICKS_PERIOD" in ix.pp.macros \
        else "MICROPY_PY_UTIME_TICKS_PERIOD"
    body = " ".join(ix.pp.macros[period_macro].body) if period_macro in ix.pp.macros else ""
    period = 2 ** (bits - 1) if bits and "MP_SMALL_INT_POSITIVE_MASK + 1" in body else None
    thumb = _value(ix, "MICROPY_EMIT_THUMB")
    inline = _value(ix, "MICROPY_EMIT_INLINE_THUMB")
    epoch = 1970 if _value(ix, "MICROPY_EPOCH_IS_1970") else 2000
    return {
        "small_int_bits": fact(bits, "%s MICROPY_OBJ_REPR @%s" % (mpc, _mp_label(fw)),
                               "MICROPY_OBJ_REPR_A on a 32-bit word: small ints are 31-bit "
                               "(py/smallint.h), 2**30 and above are heap objects"),
        "ticks_period": fact(period, "%s %s @%s" % (mpc, period_macro, _mp_label(fw)),
                             "%s = %s: ticks_ms/us wrap at 2**30" % (period_macro, body)),
        "float": fact(kind, "micropython:ports/mimxrt/boards/OPENMV_RT1060/mpconfigboard.mk "
                            "MICROPY_FLOAT_IMPL @%s" % _mp_label(fw, "ports/mimxrt/boards/OPENMV_RT1060/mpconfigboard.mk"),
                      "MICROPY_FLOAT_IMPL = %s in the board makefile (-DMICROPY_FLOAT_IMPL="
                      "MICROPY_FLOAT_IMPL_FLOAT): floats are IEEE single precision"
                      % fw.mk.get("MICROPY_FLOAT_IMPL")),
        "native_emitter": fact("thumb" if thumb else None,
                               "micropython:ports/mimxrt/mpconfigport.h MICROPY_EMIT_THUMB @%s" % _mp_label(fw),
                               "MICROPY_EMIT_THUMB=%s, MICROPY_EMIT_INLINE_THUMB=%s: @native, "
                               "@viper and @asm_thumb work" % (thumb, inline)),
        "epoch_year": fact(epoch, "micropython:ports/mimxrt/mpconfigport.h MICROPY_EPOCH_IS_1970 @%s"
                           % _mp_label(fw), "time.time()/gmtime() count from %d-01-01" % epoch),
    }


def _mp_label(fw, rel="py/mpconfig.h"):
    t = fw.mp.tree_of(rel)
    return t.label.split("@", 1)[1] if t else "?"


def boot_order(ix, fw, mplib, prof):
    main = "omv/ports/mimxrt/main.c"
    text = fw._show(main) or ""
    src = "%sports/mimxrt/main.c main @%s" % (fw.omv_root, fw.tag)
    if re.search(r"if\s*\(\s*pyexec_file_if_exists\(\s*\"boot\.py\"\s*\)\s*&&\s*first_soft_reset", text):
        return {"main_skipped_when_boot_py_raises": fact(
            True, src,
            "main.py runs only if pyexec_file_if_exists(\"boot.py\") returns non-zero: an "
            "uncaught exception in boot.py returns 0 (PYEXEC_UNHANDLED_EXCEPTION without exit "
            "code handling), so main.py is skipped; SystemExit returns PYEXEC_FORCED_EXIT and "
            "main.py still runs. main.py runs only on the first soft reset after power-on/reset")}
    m = re.search(r"(\w+)\s*=\s*(mp_exec_bootscript|bootutils_exec_bootscript)\(\s*\"boot\.py\"", text)
    if m and re.search(r"first_soft_reset\s*&&\s*!\s*%s" % m.group(1), text):
        return {"main_skipped_when_boot_py_raises": fact(
            True, src + " / %s" % m.group(2),
            "%s runs boot.py with pyexec_file_if_exists(path, true) (the fork's EXEC_FLAG_RERAISE): "
            "any exception in boot.py, SystemExit included, is re-raised, caught and printed, and "
            "sets `%s`, which skips main.py. main.py runs only on the first soft reset"
            % (m.group(2), m.group(1)))}
    if re.search(r"exec_boot_script\(\"boot\.py\"", text):
        return {"main_skipped_when_boot_py_raises": fact(
            False, src, "exec_boot_script(\"boot.py\") catches and prints; main.py runs anyway")}
    return {"main_skipped_when_boot_py_raises": fact(None, src, "pattern not found")}


def _size(s):
    m = re.match(r"\(?\s*(\d+)\s*([KM]?)\s*\)?", s.strip())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024 * 1024}[m.group(2)]


def gc_heap(ix, fw, mplib, prof):
    for name in ("omv_boardconfig.h", "board_config.h"):
        vp = "omv/boards/OPENMV_RT1060/" + name
        if fw._has(vp):
            break
    text = fw._show(vp) or ""
    src = "%sboards/OPENMV_RT1060/%s OMV_GC_BLOCKn @%s" % (fw.omv_root, name, fw.tag)
    blocks = []
    for n in range(5):
        mem = re.search(r"#define\s+OMV_GC_BLOCK%d_MEMORY\s+(\w+)" % n, text)
        size = re.search(r"#define\s+OMV_GC_BLOCK%d_SIZE\s+(\S+)" % n, text)
        if mem and size:
            blocks.append([{"OCRM1": "OCRAM", "OCRM2": "OCRAM", "DRAM": "SDRAM"}.get(mem.group(1), mem.group(1)),
                           _size(size.group(1))])
    if blocks:
        return {"gc_heap_regions": fact(
            blocks, src + " + common/common.ld.S + common/mp_utils.c mp_init_gc_stack",
            "block 0 is the first heap (_heap_start.._heap_end, gc_init), the others are "
            "gc_add()ed from the linker's .gc.blocks.table (MICROPY_GC_SPLIT_HEAP); allocation "
            "tries them in this order; total %d bytes" % sum(b[1] for b in blocks))}
    heap = re.search(r"#define\s+OMV_HEAP_SIZE\s+(\S+)", text)
    mem = re.search(r"#define\s+OMV_MAIN_MEMORY\s+(\w+)", text)
    if heap:
        size = _size(heap.group(1))
        return {"gc_heap_regions": fact(
            [[mem.group(1) if mem else "?", size]],
            "%sboards/OPENMV_RT1060/%s OMV_HEAP_SIZE @%s + %sports/mimxrt/mimxrt.ld.S ._heap + main.c gc_init"
            % (fw.omv_root, name, fw.tag, fw.omv_root),
            "one GC heap of %d bytes in %s (gc_init(&_heap_start, &_heap_end), no gc_add): no "
            "SDRAM heap, large Python buffers fail with MemoryError" % (size, mem.group(1) if mem else "?"))}
    return {"gc_heap_regions": fact(None, src, "not found")}


def deepsleep(ix, fw, mplib, prof):
    cf = _mp_file(ix, fw, "ports/mimxrt/modmachine.c")
    body = (cf.function_body("mp_machine_deepsleep") or cf.function_body("machine_deepsleep") or "") if cf else ""
    if not body:
        return {}
    func = "mp_machine_deepsleep" if cf.function_body("mp_machine_deepsleep") else "machine_deepsleep"
    src = "%s %s" % (fw.cite(cf.vpath), func)
    whole = bool(re.search(r"mp_obj_get_int\(args\[0\]\)\s*/\s*1000", body))
    return {"deepsleep_whole_seconds": fact(
        whole, src,
        "seconds = ms / 1000 and the RTC alarm is armed only if seconds > 0: below 1000 ms no "
        "timer (only the wake-up pin); SNVS_LPCR_TOP powers the board off, so waking is a reset")}


def wdt_range(ix, fw, mplib, prof):
    for p in ("ports/mimxrt/machine_wdt.c",):
        cf = _mp_file(ix, fw, p)
        if cf is None:
            continue
        m = re.search(r"#define\s+MIN_TIMEOUT\s+\(?(\d+)", fw._show(cf.vpath) or "")
        n = re.search(r"#define\s+MAX_TIMEOUT\s+\(?(\d+)", fw._show(cf.vpath) or "")
        if m and n:
            return {"wdt_timeout_range_ms": fact(
                [int(m.group(1)), int(n.group(1))], "%s MIN_TIMEOUT/MAX_TIMEOUT" % fw.cite(cf.vpath),
                "timeouts outside are clamped (WDOG1, 500 ms steps); a WDT cannot be stopped")}
    return {}


def errno_values(ix, fw, mplib, prof):
    internal = _value(ix, "MICROPY_USE_INTERNAL_ERRNO")
    return {"errno_values": fact(
        "internal" if internal else "newlib",
        "micropython:py/mperrno.h MICROPY_USE_INTERNAL_ERRNO @%s" % _mp_label(fw),
        "MICROPY_USE_INTERNAL_ERRNO=%s: MP_Exxx are the C library's (arm-none-eabi newlib) errno "
        "values, which differ from Linux for the network ones (e.g. newlib ETIMEDOUT is 116, "
        "Linux 110): compare with errno.ETIMEDOUT, never a number" % internal)}


def pm_constants(ix, fw, mplib, prof):
    wlan = ((prof["modules"].get("network") or {}).get("classes") or {}).get("WLAN") or {}
    names = wlan.get("names") or []
    has = "PM_NONE" in names
    return {"wlan_pm_constants": fact(has, wlan.get("source", "?"),
                                      "WLAN.PM_NONE/PM_PERFORMANCE/PM_POWERSAVE %s; values come "
                                      "from the cyw43 driver (CYW43_PM_VALUE)" % ("present" if has else "absent"))}


def _board_config(fw):
    for name in ("omv_boardconfig.h", "board_config.h"):
        vp = "omv/boards/OPENMV_RT1060/" + name
        if fw._has(vp):
            return name, fw._show(vp)
    return None, ""


def framebuffer_pool(ix, fw, mplib, prof):
    name, text = _board_config(fw)
    src = "%sboards/OPENMV_RT1060/%s @%s" % (fw.omv_root, name, fw.tag)
    m = re.search(r"#define\s+OMV_UMA_BLOCK0_SIZE\s+(\S+)", text)
    if m:
        return {"framebuffer_pool": fact(_size(m.group(1)), src.replace(" @", " OMV_UMA_BLOCK0_SIZE @"),
                                         "frame buffers and image allocations come from the UMA "
                                         "pool in SDRAM, outside the GC heap")}
    m = re.search(r"#define\s+OMV_FB_SIZE\s+(\S+)", text)
    a = re.search(r"#define\s+OMV_FB_ALLOC_SIZE\s+(\S+)", text)
    if m:
        return {"framebuffer_pool": fact(_size(m.group(1)), src.replace(" @", " OMV_FB_SIZE @"),
                                         "frame buffer memory in SDRAM, outside the GC heap; "
                                         "fb_alloc minimum %s" % (a.group(1) if a else "?"))}
    return {}


def jpeg_auto_subsampling(ix, fw, mplib, prof):
    for rel in ("lib/imlib/jpege.c", "imlib/jpege.c", "imlib/jpeg.c", "lib/imlib/jpeg.c"):
        text = fw.omv.show(rel)
        if not text:
            continue
        m = re.search(r"quality\s*<=\s*(\d+)\s*\)\s*\{\s*\w+\s*=\s*(\w+);\s*\}\s*else\s+if\s*\(\s*"
                      r"quality\s*<\s*(\d+)\s*\)\s*\{\s*\w+\s*=\s*(\w+);", text)
        if m:
            has_kw = "subsampling" in prof["modules"]["image"]["classes"]["Image"]["methods"]["to_jpeg"]["kwargs"]
            return {"jpeg_auto_subsampling": fact(
                {"420_up_to_quality": int(m.group(1)), "422_below_quality": int(m.group(3)),
                 "444_from_quality": int(m.group(3))},
                "%s%s jpeg_compress @%s" % (fw.omv_root, rel, fw.tag),
                "colour images without an explicit subsampling: quality <= %s gives 4:2:0, < %s "
                "4:2:2, else 4:4:4 (RTP/JPEG cannot carry 4:4:4). %s" % (
                    m.group(1), m.group(3),
                    "to_jpeg takes subsampling= to override" if has_kw else
                    "This firmware's to_jpeg has no subsampling keyword (and silently ignores "
                    "unknown keywords): keep quality below %s" % m.group(3)))}
    return {}


def mpy_version(ix, fw, mplib, prof):
    text = fw.mp.show("py/persistentcode.h") or ""
    v = re.search(r"#define\s+MPY_VERSION\s+(\d+)", text)
    sub = re.search(r"#define\s+MPY_SUB_VERSION\s+(\d+)", text)
    if not v:
        return {}
    return {"mpy_version": fact([int(v.group(1)), int(sub.group(1)) if sub else 0],
                                "micropython:py/persistentcode.h MPY_VERSION @%s" % _mp_label(fw, "py/persistentcode.h"),
                                ".mpy files must have this major version; the sub-version is "
                                "checked only for native code")}
