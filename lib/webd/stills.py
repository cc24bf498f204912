# The stills on the active drive as the web pages see them: names checked against the one
# shape lib/still_images.py gives them, listings newest first, a page at a time.
#
# A name is accepted only in that shape: <day>/<file>.jpg with <day> a date (YYYY-MM-DD)
# or "unsynced", and <file> of digits, letters, '-' and '_'. The check runs on the decoded
# path, so no '..', no '/', no '\', no '%' trick and no absolute path can leave the folder.
import os

UNSYNCED = "unsynced"
MAX_FILE = 40


def _is_day(d):
    if d == UNSYNCED:
        return True
    if len(d) != 10 or d[4] != "-" or d[7] != "-":
        return False
    return (d[0:4] + d[5:7] + d[8:10]).isdigit()


def valid(rel):
    """Is rel ("2026-11-23/20261123-154501.jpg") the name of a still (not a path elsewhere)?"""
    day, slash, name = rel.partition("/")
    if not slash or not _is_day(day) or not name.endswith(".jpg"):
        return False
    stem = name[:-4]
    if not stem or len(name) > MAX_FILE:
        return False
    for c in stem:
        if not (c.isdigit() or c.isalpha() and c < "\x7f" or c in "-_"):
            return False
    return True


def iso_time(day, name):
    """The UTC time in a still's name, as ISO 8601, or None (unsynced: the RTC was not set)."""
    if day == UNSYNCED or len(name) < 15 or name[8] != "-":
        return None
    d, t = name[0:8], name[9:15]
    if not (d.isdigit() and t.isdigit()):
        return None
    return "%s-%s-%sT%s:%s:%sZ" % (d[0:4], d[4:6], d[6:8], t[0:2], t[2:4], t[4:6])


def _entries(folder, dirs):
    out = []
    try:
        for e in os.ilistdir(folder):
            is_dir = e[1] & 0x4000 != 0
            if is_dir == dirs:
                out.append((e[0], e[3] if len(e) > 3 else 0))
    except OSError:
        pass
    return out


def listing(folder, page, per):
    """(total, [(day, name, size)]) of the stills under folder, newest first, page `page`
    (from 0) of `per`. Dated days newest first, then the unsynced ones (newest name first)."""
    days = [d for d, _ in _entries(folder, True) if _is_day(d)]
    days.sort(reverse=True)
    if UNSYNCED in days:
        days.remove(UNSYNCED)
        days.append(UNSYNCED)
    skip = page * per
    total = 0
    items = []
    for day in days:
        files = [f for f in _entries(folder + "/" + day, False) if valid(day + "/" + f[0])]
        total += len(files)
        if len(items) >= per:
            continue
        if skip >= len(files):
            skip -= len(files)
            continue
        files.sort(reverse=True)
        for name, size in files[skip:skip + per - len(items)]:
            items.append((day, name, size))
        skip = 0
    return total, items


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
