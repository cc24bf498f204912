# Emulated `omv`: which firmware the emulated board runs (chosen with --firmware).
import _bus

_v = None


def _version():
    global _v
    if _v is None:
        _v = tuple(int(x) for x in _bus.call("fw_version").decode().split("."))
    return _v


def version_major():
    return _version()[0]


def version_minor():
    return _version()[1]


def version_patch():
    return _version()[2]


def version_string():
    return "%d.%d.%d" % _version()


def arch():
    return "OMV4 RT1062 32768 SDRAM"


def board_type():
    return "OPENMV_RT1060"


def board_id():
    import ubinascii
    return ubinascii.hexlify(_bus.call("unique_id")).decode().upper()


def disable_fb(flag=None):
    # 4.5-4.7 only: stop the IDE preview frame buffer (no IDE in the emulator)
    if _version() >= (5, 0, 0):
        raise AttributeError("disable_fb")
    return None
