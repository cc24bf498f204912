# The app's GC heap as the camera gives it: one piece of the firmware's size, which the
# emulator's own objects neither eat nor break up.
#
# On the camera the firmware's modules (csi, sensor, image, machine, network, os...) are C:
# their code and tables are in flash and take nothing from the GC heap. Here they are Python
# modules in the app's process. Imported lazily among the app's own imports, they left their
# objects, and the holes that compiling them leaves, all over the app's heap: on the 4.5.4
# profile (280 KB) the largest free block at the lean-mode decision was 14 KB of 250 KB free
# (the os module's shadow, two names longer than on 4.5.2, was enough to shift the pattern),
# and the lean mode's imports failed. So _sim_boot does, before boot.py:
#   carve(n)  the frame-buffer pool, then the app's n bytes as one block right above it;
#   load()    every emulated firmware module and every builtin's shadow, above both;
#   release() a plug in every hole the loading left (and in the spare room at the top), then
#             the app's block is freed: the app starts with gc.mem_free() == n, in one piece.
# What the emulator allocates later (bus replies, socket and image objects) comes out of the
# app's heap, as the firmware's C code allocates Python objects there too.
import gc
import _fb

FIRMWARE_MODULES = ("time", "image", "sensor", "csi", "machine", "mimxrt", "network",
                    "socket", "ntptime", "omv", "logging")
MAX_PLUGS = 4096         # ~550 are used (a hole takes one plug per bit of its size)
_app = None              # the app's heap while the emulator loads
_plugs = None            # what fills the holes, kept for good


def carve(n):
    global _app
    _fb.reserve()
    gc.collect()
    _app = bytearray(n)


def load(imports):
    """Import the emulated firmware modules the profile has, and shape every builtin."""
    for name in FIRMWARE_MODULES:
        try:
            __import__(name)
        except ImportError:          # not on this firmware (csi on 4.5): the app's import fails
            pass
    imports.prebuild()


def release():
    global _app, _plugs
    gc.collect()
    plugs = [None] * MAX_PLUGS
    n = 0
    size = gc.mem_free()
    while size:
        try:
            plugs[n] = bytearray(size)       # first fit: the lowest hole it fits in
            n += 1
        except MemoryError:
            size //= 2
        except IndexError:
            raise RuntimeError("emulator: more than %d holes beside the app's heap" % n)
    _plugs = plugs
    _app = None
    gc.collect()
