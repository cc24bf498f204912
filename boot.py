# boot.py: runs on every reset, before main.py. Checks the SD card honestly and points the
# firmware at the drive the app must run from (lib/sdcheck.py says how).
#
# It must never raise: on firmware 5.0 an exception here stops main.py from running at all.
# Only Ctrl-C (KeyboardInterrupt, the IDE's stop button) passes: stopping is the user's wish.


def _sdcheck_from_flash():
    # On firmware 4.5 the card is "/" and lib/ is read from it. When that import failed, the
    # card is unreadable: mount the internal flash at /flash (only if "/" is not the flash
    # itself) and import the flash copy.
    import os
    import sys
    import machine
    import mimxrt
    try:
        import vfs
    except ImportError:
        vfs = os
    flash = mimxrt.Flash()
    st = os.statvfs("/")
    if machine.SDCard(1).present() and st[0] * st[2] > flash.ioctl(4, 0) * flash.ioctl(5, 0):
        try:
            vfs.mount(vfs.VfsFat(flash), "/flash")
        except OSError:
            pass            # already mounted
    sys.path.append("/flash/lib")
    import sdcheck
    return sdcheck


def _boot():
    try:
        import sdcheck
    except Exception as e:
        print("boot: cannot import sdcheck from the card (%r), trying flash" % (e,))
        sdcheck = _sdcheck_from_flash()
    sdcheck.boot()


try:
    _boot()
except KeyboardInterrupt:
    raise
except BaseException as e:
    try:
        print("boot: failed, continuing without the SD check:", repr(e))
    except BaseException:
        pass
# boot.py shares its globals with main.py on the camera: leave nothing behind
del _boot, _sdcheck_from_flash
