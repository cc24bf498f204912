# Emulated `omv`: which firmware the emulated board runs (chosen with --firmware).
# version_major/minor/patch are int constants, not functions, on every version
# (source: modules/py_omv.c globals_dict_table MP_ROM_INT(FIRMWARE_VERSION_MAJOR) @v4.5.2
# .. @v5.0.0). disable_fb exists up to 4.7, debug_mode from 4.7: the profile decides.
import _bus
import _profile


def _version():
    fw = _profile.top().get("firmware")
    if fw:
        return tuple(fw)
    return tuple(int(x) for x in _bus.call("fw_version").decode().split("."))


version_major, version_minor, version_patch = _version()


def version_string():
    return "%d.%d.%d" % (version_major, version_minor, version_patch)


def arch():
    return "OMV4 RT1062 32768 SDRAM"


def board_type():
    return "OPENMV_RT1060"


def board_id():
    import ubinascii
    return ubinascii.hexlify(_bus.call("unique_id")).decode().upper()


def debug_mode():
    # True while OpenMV IDE is connected; the emulator has no IDE.
    return False


def disable_fb(flag=None):
    # Stops the IDE preview frame buffer; no IDE here, so nothing to stop.
    return None


_profile.gate(globals(), "omv")
_profile.forget("omv")
