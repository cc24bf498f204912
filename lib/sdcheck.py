# The SD card check shared by boot.py and main.py.
#
# A card a PC calls healthy can still lose or corrupt writes, so the check is honest: write a
# probe file with random content, sync, read it back, compare, check free space, remove it.
# The outcome (the "decision") says which drive the app runs from and writes to:
#   card_ok  True when the card passed        reason  why not (short code + detail)
#   card     where the card is mounted        flash   where the internal flash is mounted
#   app      the drive the code runs from     fw      firmware version the decision is for
#
# Layouts (detected, never assumed from the version):
#   4.6+  nothing at "/", flash at /flash, card at /sdcard (statvfs("/") reports 0 blocks)
#   4.5   one drive at "/": the card if it mounted, else the flash. When the card is "/",
#         this module mounts the flash at /flash itself (mimxrt.Flash() + VfsFat), so the
#         app always has its flash copy and a place for the state file.
#
# boot.py runs boot(); it records the decision in a small JSON file on flash and applies it:
# the current directory and sys.path point at the app drive, so the firmware's next step,
# running "main.py" from the current directory, runs the flash copy when the card is bad.
# main.py calls decide(): the decision made in this VM, else the recorded one when it still
# matches the hardware (main.py started from OpenMV IDE without boot.py), else a new check.
import os
import sys
import json
import entropy
import storage
try:
    import vfs
except ImportError:     # MicroPython < 1.23 (early 4.5.x firmware): mount lives in os
    vfs = os

STATE_FILE = ".sdstate.json"
PROBE_FILE = ".sdprobe.tmp"
PROBE_BYTES = 4096            # several sectors: a card that drops writes shows it
MIN_FREE = 256 * 1024         # less than this and logs could not be written
RETRY_DELAY_MS = 300          # slow cards finish their init within this

# reason codes (the first word of decision["reason"])
NO_CARD = "no_card"
SKIPPED = "skipped"
UNFORMATTED = "unformatted"
MOUNT_FAILED = "mount_failed"
READ_ERROR = "read_error"
WRITE_ERROR = "write_error"
BAD_DATA = "bad_data"
FULL = "full"
NO_APP = "no_app"

_decision = None              # this VM's decision


def sd_device():
    try:
        import machine
        return machine.SDCard(1)
    except Exception:         # a board without a slot (or a test): no card
        return None


def flash_device():
    try:
        import mimxrt
        return mimxrt.Flash()
    except Exception:
        return None


def present(sd):
    try:
        return sd is not None and bool(sd.present())
    except Exception:
        return False


def _statvfs(path):
    try:
        return os.statvfs(path)
    except OSError:
        return None


def _dev_bytes(dev):
    try:
        return dev.ioctl(4, 0) * dev.ioctl(5, 0)
    except Exception:
        return 0


def _mounted_apart(path):
    """True when a file system is mounted at path itself (not just a folder under "/")."""
    st = _statvfs(path)
    return st is not None and st[2] > 0 and st != _statvfs("/")


# -- layout ----------------------------------------------------------------------------------

def layout(sd, flash):
    """(flash path or None, card path or None, split) for what is mounted right now;
    on 4.5 with the card at "/" this mounts the flash at /flash first."""
    root = _statvfs("/")
    if root is None or root[2] == 0:
        f = "/flash" if _mounted_apart("/flash") else None
        c = "/sdcard" if _mounted_apart("/sdcard") else None
        return f, c, True
    if _root_is_card(root, sd, flash):
        return _mount_flash(flash), "/", False
    return "/", ("/sdcard" if _mounted_apart("/sdcard") else None), False


def _root_is_card(root, sd, flash):
    # 4.5 mounts the card at "/" when it can, else the flash. The flash file system is a few
    # MB; a drive at "/" larger than the whole flash device must be the card.
    if not present(sd):
        return False
    fb = _dev_bytes(flash)
    return fb > 0 and root[0] * root[2] > fb


def _mount_flash(flash):
    if _mounted_apart("/flash"):
        return "/flash"
    if flash is None:
        return None
    try:
        vfs.mount(vfs.VfsFat(flash), "/flash")
        return "/flash"
    except OSError as e:
        # never format here: a corrupt flash would lose the app's own copy
        print("sdcheck: cannot mount internal flash:", e)
        return None


def _mount_card(sd, where="/sdcard"):
    try:
        vfs.mount(vfs.VfsFat(sd), where)
        return where
    except OSError:
        return None


def _umount(where):
    try:
        vfs.umount(where)
    except Exception:
        pass


def _sleep_ms(ms):
    import time
    time.sleep_ms(ms)


# -- the health check ------------------------------------------------------------------------

def probe(root, nbytes=PROBE_BYTES, min_free=MIN_FREE):
    """The honest health check of a mounted drive; "" when healthy, else a reason."""
    path = storage.join(root, PROBE_FILE)
    free = storage.free_bytes(root)
    if free < 0:
        return READ_ERROR + ": cannot read the file system"
    if free < min_free:
        return FULL + ": %d KB free" % (free // 1024)
    data = entropy.random_bytes(nbytes)   # differs at every check: old data never matches
    why = _write_probe(path, data)
    if why:
        storage.remove_quiet(path)
        return why
    why = _compare_probe(path, data)
    if not storage.remove_quiet(path) and not why:
        why = WRITE_ERROR + ": cannot remove the probe file"
    return why


def _write_probe(path, data):
    try:
        with open(path, "wb") as f:
            n = f.write(data)
            f.flush()
        storage.sync()
    except OSError as e:
        code = FULL if storage.classify(e) == storage.FULL else WRITE_ERROR
        return "%s: %s" % (code, storage._errname(e))
    if n is not None and n != len(data):
        return WRITE_ERROR + ": short write (%d of %d bytes)" % (n, len(data))
    return ""


def _compare_probe(path, data):
    try:
        with open(path, "rb") as f:
            back = f.read()
    except OSError as e:
        if e.args and e.args[0] == storage.ENOENT:
            return BAD_DATA + ": the probe file vanished after writing"
        return READ_ERROR + ": " + storage._errname(e)
    if back != data:
        return BAD_DATA + ": read back different data than written"
    return ""


def _card_reason(card, sd, flash_path, delay_ms):
    """Check the card (mounting it once more after a delay if needed); "" when usable."""
    if card is None:
        if not present(sd):
            return NO_CARD + ": no card in the slot"
        if flash_path and storage.exists(storage.join(flash_path, "SKIPSD")):
            return SKIPPED + ": SKIPSD on flash"
        _sleep_ms(delay_ms)
        card = _mount_card(sd)
        if card is None:
            return _why_unmountable(sd)
    why = _check_with_room(card)
    if why and card != "/" and present(sd):
        # one more try after a short delay, from a fresh mount (no stale caches)
        _umount(card)
        _sleep_ms(delay_ms)
        if _mount_card(sd, card) is None:
            return _why_unmountable(sd)
        why = _check_with_room(card)
    elif why and card == "/":
        _sleep_ms(delay_ms)          # "/" cannot be remounted under the running firmware
        why = _check_with_room(card)
    return why


def _check_with_room(card):
    why = probe(card)
    if why.startswith(FULL):
        # our own stills may have filled the card: retention first, then judge again
        storage.prune(storage.join(card, storage.STILLS), MIN_FREE * 2)
        why = probe(card)
    return why


def _why_unmountable(sd):
    buf = bytearray(512)
    try:
        # machine.SDCard.readblocks returns -EIO (an int) on a failed read instead of raising
        r = sd.readblocks(0, buf)
    except Exception as e:
        return READ_ERROR + ": cannot read the card (%s)" % storage._errname(e)
    if isinstance(r, int) and r < 0:
        return READ_ERROR + ": cannot read the card (%s)" % storage._errname(OSError(-r))
    if buf[510] != 0x55 or buf[511] != 0xAA:
        return UNFORMATTED + ": no FAT file system (format it FAT32 on a PC)"
    return MOUNT_FAILED + ": the file system cannot be mounted"


# -- the decision ----------------------------------------------------------------------------

def check(sd=None, flash=None, delay_ms=RETRY_DELAY_MS):
    """Detect the layout, check the card, choose the drives. Does not apply anything."""
    sd = sd if sd is not None else sd_device()
    flash = flash if flash is not None else flash_device()
    fpath, card, split = layout(sd, flash)
    why = _card_reason(card, sd, fpath, delay_ms)
    if not why and card is None:
        card = "/sdcard"             # mounted by the retry above
    d = {"card_ok": not why, "reason": why, "flash": fpath, "split": split,
         "card": card if not why else None, "fw": _fw(), "card_blocks": _blocks(sd)}
    d["app"] = _app_drive(d)
    return d


def _app_drive(d):
    # the code runs from the card only when the card is healthy and holds the app
    if d["card_ok"] and storage.exists(storage.join(d["card"], "main.py")):
        return d["card"]
    if d["card_ok"] and not d["reason"]:
        d["reason"] = NO_APP + ": no main.py on the card, running the flash copy"
    return d["flash"] or d["card"] or "/"


def _fw():
    try:
        import omv
        return omv.version_string()
    except Exception:
        return ""


def _blocks(sd):
    try:
        return sd.ioctl(4, 0) if present(sd) else 0
    except Exception:
        return 0


def apply(d):
    """Make the decision real: cwd and sys.path on the app drive, a bad card unmounted."""
    bad = d.get("bad_card_at")
    if not d["card_ok"] and bad and bad != "/":
        _umount(bad)
    app = d["app"]
    usable = [app] + [x for x in (d["card"], d["flash"]) if x and x != app]
    # the drive entries the firmware may have put on sys.path; anything else (frozen
    # modules, the IDE's own) stays where it is
    managed = _entries(["/flash", "/sdcard", "/"] + usable)
    sys.path[:] = [p for p in sys.path if p not in managed] + _entries(usable)
    try:
        os.chdir(app)
    except OSError:
        pass


def _entries(drives):
    out = []
    for d in drives:
        out.append(d)
        out.append(storage.join(d, "lib"))
    return out


def record(d):
    """Save the decision on flash; written only when it changed (flash wears out)."""
    if not d["flash"]:
        return False
    path = storage.join(d["flash"], STATE_FILE)
    text = json.dumps(d)
    if storage.read_file(path) == text:
        return True
    try:
        storage.write_atomic(path, text)
        return True
    except OSError as e:
        print("sdcheck: cannot record the decision on flash:", e)
        return False


def recorded(sd=None, flash=None):
    """The decision boot.py recorded, if it still matches the hardware; else None."""
    sd = sd if sd is not None else sd_device()
    flash = flash if flash is not None else flash_device()
    fpath, card, split = layout(sd, flash)
    if not fpath:
        return None
    try:
        d = json.loads(storage.read_file(storage.join(fpath, STATE_FILE)) or "null")
    except ValueError:
        return None
    if not isinstance(d, dict) or d.get("fw") != _fw() or d.get("flash") != fpath:
        return None
    if d.get("card_blocks") != _blocks(sd):
        return None                  # another card (or none) since then
    if d.get("card_ok") and d.get("card") != card:
        return None                  # the good card is not mounted where it was
    d["bad_card_at"] = card
    return d


def boot(sd=None, flash=None, delay_ms=RETRY_DELAY_MS):
    """boot.py's entry point: check, record, apply. Never raises; always a decision."""
    global _decision
    try:
        d = check(sd, flash, delay_ms)
        d["bad_card_at"] = None if d["card_ok"] else _bad_card_at(d)
        record(d)
    except Exception as e:
        d = _unchecked(e)
    try:
        apply(d)
    except Exception as e:
        print("boot: cannot apply the decision:", repr(e))
    _decision = d
    print("boot: " + summary(d))
    return d


def _unchecked(e):
    # the check itself failed (a driver bug, no memory): trust nothing but the flash
    f = "/flash" if _mounted_apart("/flash") else "/"
    return {"card_ok": False, "reason": "check_failed: " + repr(e), "flash": f, "card": None,
            "split": f == "/flash", "fw": _fw(), "card_blocks": 0, "app": f,
            "bad_card_at": _bad_card_at(None)}


def _bad_card_at(d):
    # a card that failed the check but is still mounted (4.6+ mounts it before boot.py)
    return "/sdcard" if _mounted_apart("/sdcard") else None


def decide(sd=None, flash=None, delay_ms=RETRY_DELAY_MS, fresh=False):
    """main.py's entry point: the same decision boot.py made, found or made again."""
    global _decision
    if _decision is not None and not fresh:
        return _decision
    d = None if fresh else recorded(sd, flash)
    if d is None:
        return boot(sd, flash, delay_ms)
    apply(d)
    _decision = d
    return d


def forget():
    """Drop this VM's decision (tests; or after the hardware changed)."""
    global _decision
    _decision = None


def summary(d):
    if d["card_ok"] and d["app"] == d["card"]:
        return "SD card OK, running from %s" % d["app"]
    if d["card_ok"]:
        return "SD card OK for data; %s" % d["reason"]
    return "SD card not used (%s); running from flash %s" % (d["reason"], d["app"])
