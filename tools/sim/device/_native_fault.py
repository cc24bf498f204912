# A fault in machine code compiled at run time (board option native_fault, CLI --native-fault):
# the worst case of code the core cannot execute, e.g. placed where it cannot fetch
# instructions from. Generic: every native and viper function of every module the app imports
# (not the emulator's own, which stand for C code) faults on its first call; functions defined
# by the scripts themselves (boot.py, main.py: exec'd, not imported) are not covered.
#
# What a fault does on the camera (source: OpenMV v4.8.1 and v5.0.0): ports/mimxrt and
# common/ define no fault handler, so HardFault_Handler (and MemManage/BusFault/UsageFault)
# are the weak defaults of lib/cmsis/src/mimxrt/startup_MIMXRT1062.S, which branch to
# themselves. The core spins there with every lower-priority interrupt masked: no Python, no
# USB, no REPL (Ctrl-C does nothing), no reset, until the watchdog (if the app armed one)
# resets the board, or the power is cut. Modelled here: the process stops running Python for
# good (it never feeds the watchdog), the board records the fault.
#
# How functions are told apart: native, viper and native generator functions each have their
# own type, none the type of a bytecode function (py/emitglue.c: mp_type_fun_native,
# mp_type_fun_viper, mp_type_native_gen_wrap); the references below are compiled here.
# Modules are found through builtins.__import__ (MICROPY_CAN_OVERRIDE_BUILTINS): after each
# import that loaded something, every module's functions and its classes' methods are
# looked at again (a module still being imported gets its functions later), wrapped ones
# are plain closures and are not wrapped twice.
import builtins
import sys
import micropython
import utime
import _bus


@micropython.native
def _n():
    pass


@micropython.viper
def _v():
    pass


@micropython.native
def _g():
    yield


_TYPES = (type(_n), type(_v), type(_g))
del _n, _v, _g          # not wrapped themselves
_DEVICE = "/.sim/"      # the emulator's own modules: C code on the camera
_prev = None
_seen = set()           # classes looked at


def install():
    """Make the first call of imported native code fault; call once, after the other import
    hooks are in place (this one wraps them)."""
    global _prev
    _prev = builtins.__import__
    builtins.__import__ = _import


def _import(name, *args):
    n = len(sys.modules)
    mod = _prev(name, *args)
    if len(sys.modules) != n:
        _scan()
    return mod


def _scan():
    for name, mod in list(sys.modules.items()):
        if getattr(mod, "__file__", "").startswith(_DEVICE) or name == __name__:
            continue
        d = getattr(mod, "__dict__", None)
        if d is None:
            continue
        for k, v in list(d.items()):
            if type(v) in _TYPES:
                setattr(mod, k, _wrap(v, "%s.%s" % (name, k)))
            elif isinstance(v, type) and v not in _seen:
                _seen.add(v)
                _wrap_class(v, name)


def _wrap_class(cls, modname):
    d = getattr(cls, "__dict__", {})
    for k, v in list(d.items()):
        if type(v) in _TYPES:       # plain methods only (staticmethod objects are not)
            setattr(cls, k, _wrap(v, "%s.%s.%s" % (modname, cls.__name__, k)))


def _wrap(fn, where):
    def call(*args, **kw):
        _fault(where)
        return fn(*args, **kw)      # never reached
    return call


def _fault(where):
    try:
        _bus.call("native_fault", where.encode())   # the board records it (no console output)
    except Exception:
        pass
    while True:                     # the core in the fault handler: nothing runs any more
        try:
            utime.sleep_ms(500)
            _bus.call("fw_version")     # the host (board) still there?
        except KeyboardInterrupt:
            pass                    # no USB, no REPL: Ctrl-C does not reach a faulted core
        except OSError:
            sys.exit(1)             # the host is gone: nobody will reset this board
