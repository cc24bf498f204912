# Settings: defaults, loading and validating config.json, masking secrets, and the RTSP
# password generated on first boot.
#
# A broken config.json never stops the camera: load() returns a complete config (the user's
# valid values, defaults for the rest) and a list of messages that name the offending key and
# the allowed values. Secret values never appear in a message, a log line or print().
import json
import storage

# One entry per setting: (key, kind, default, a, b). default None = required, no default.
#   bool | int a..b | num a..b | str length a..b | secret: "" or length a..b
#   enum: a = allowed values | strlist: 1..a items of length 1..b | color "#RRGGBB" (a: "none" ok)
#   path: starts with "/", length <= a, no spaces
SPEC = (
    ("wifi", (
        ("ssid", "str", None, 1, 32),
        ("password", "secret", "", 8, 63),
        ("connect_timeout_s", "int", 20, 5, 120),
        ("retry_interval_s", "int", 30, 5, 3600),
        ("power_management", "enum", "performance", ("performance", "balanced", "powersave"), None),
        ("hostname", "str", "", 0, 32),
    )),
    ("camera", (
        ("mode", "enum", "hardware_jpeg", ("hardware_jpeg", "overlay"), None),
        ("framesize", "enum", "HD", ("QVGA", "VGA", "SVGA", "HD"), None),
        ("quality", "int", 80, 10, 95),
        ("subsampling", "enum", "422", ("422", "420"), None),
        ("fps", "int", 0, 0, 30),
        ("hmirror", "bool", False, None, None),
        ("vflip", "bool", False, None, None),
    )),
    ("stream", (
        ("target_fps", "int", 10, 0, 30),
        ("max_kbps", "int", 0, 0, 100000),
        ("min_quality", "int", 30, 10, 95),
    )),
    ("overlay", (
        ("format", "str", "%Y-%m-%d %H:%M:%S", 0, 64),
        ("position", "enum", "top_left",
         ("top_left", "top_right", "bottom_left", "bottom_right"), None),
        ("scale", "num", 2, 0.5, 8),
        ("camera_name", "str", "", 0, 32),
        ("text_color", "color", "#FFFFFF", False, None),
        ("background_color", "color", "#000000", True, None),
        ("unsynced_text", "str", "TIME NOT SYNCED", 0, 60),
    )),
    ("time", (
        ("ntp_servers", "strlist", ["pool.ntp.org"], 4, 64),
        ("sync_interval_s", "int", 21600, 300, 604800),
        ("utc_offset_minutes", "int", 0, -720, 840),
        ("dst", "enum", "none", ("none", "eu", "us"), None),
    )),
    ("rtsp", (
        ("port", "int", 554, 1, 65535),
        ("path", "path", "/stream", 64, None),
        ("auth", "enum", "digest", ("digest", "basic", "none"), None),
        ("user", "str", "admin", 1, 32),
        ("password", "secret", "", 8, 64),
        ("max_clients", "int", 4, 1, 8),
        ("session_timeout_s", "int", 60, 10, 600),
        ("native", "enum", "auto", ("auto", "on", "off"), None),
    )),
    ("http", (
        ("enabled", "bool", True, None, None),
        ("port", "int", 80, 1, 65535),
        ("frame_slots", "int", 2, 0, 3),
    )),
    ("stills", (
        ("enabled", "bool", True, None, None),
        ("interval_s", "int", 0, 0, 86400),
        ("on_wake", "bool", True, None, None),
        ("on_request", "bool", True, None, None),
        ("quality", "int", 90, 10, 100),
        ("min_free_mb", "int", 64, 1, 100000),
        ("max_files", "int", 1000, 1, 100000),
    )),
    ("power", (
        ("deep_sleep", "bool", False, None, None),
        ("grace_period_s", "int", 120, 2, 3600),
        ("sleep_duration_s", "int", 600, 0, 86400),
        ("awake_window_s", "int", 180, 5, 3600),
        ("wake_on_p11", "bool", True, None, None),
    )),
    ("led", (
        ("mode", "enum", "all", ("all", "errors", "off"), None),
    )),
    ("logging", (
        ("level", "enum", "info", ("debug", "info", "warning", "error"), None),
        ("max_kb", "int", 256, 8, 4096),
        ("files", "int", 3, 1, 9),
        ("console", "bool", True, None, None),
        ("health_s", "int", 60, 5, 86400),
    )),
    ("watchdog", (
        ("enabled", "bool", True, None, None),
        ("timeout_s", "int", 30, 5, 128),
    )),
    ("recovery", (
        ("safe_mode_after", "int", 3, 2, 20),
        ("backoff_s", "int", 5, 1, 600),
        ("backoff_max_s", "int", 300, 1, 3600),
        ("stable_after_s", "int", 600, 30, 86400),
        ("safe_mode_retry_min", "int", 60, 0, 10080),
    )),
    ("storage", (
        ("fallback", "enum", "flash", ("flash", "off"), None),
        ("flash_log_kb", "int", 64, 8, 512),
        ("flash_max_stills", "int", 10, 0, 100),
        ("flash_min_free_kb", "int", 512, 64, 4096),
    )),
)

SECRETS_FILE = "secrets.json"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"   # no 0/o, 1/l/i: read off a screen


def defaults():
    """A complete config with every default (wifi.ssid is None: it has no default)."""
    cfg = {}
    for section, keys in SPEC:
        cfg[section] = {k[0]: _copy(k[2]) for k in keys}
    return cfg


def _copy(v):
    return list(v) if isinstance(v, list) else v


def is_secret(section, key):
    for s, keys in SPEC:
        if s == section:
            for k in keys:
                if k[0] == key:
                    return k[1] == "secret"
    return False


def masked(cfg):
    """A copy of cfg safe to print or log: secrets show only whether they are set."""
    out = {}
    for section, keys in SPEC:
        sec = dict(cfg.get(section, {}))
        for k in keys:
            if k[1] == "secret" and k[0] in sec:
                sec[k[0]] = "(set)" if sec[k[0]] else "(empty)"
        out[section] = sec
    return out


def load(path="config.json"):
    """(config, errors): never raises. Missing or broken parts fall back to defaults."""
    text = storage.read_file(path)
    if text is None:
        cfg, errors = validate({})
        return cfg, ["%s: not found or unreadable; using defaults" % path] + errors
    try:
        raw = json.loads(text)
    except ValueError:
        # the parser's message could quote the file (and a password): say only where to look
        cfg, errors = validate({})
        return cfg, ["%s: not valid JSON (check commas, quotes and braces); using defaults"
                     % path] + errors
    return validate(raw)


def validate(raw):
    """(config, errors) for a decoded config.json."""
    cfg = defaults()
    errors = []
    if not isinstance(raw, dict):
        errors.append("config: the top level must be an object {...}; using defaults")
        raw = {}
    for name in sorted(raw):
        if _section(name) is None and name != "$schema":    # "$schema": for editors
            errors.append("unknown key '%s' (ignored); known sections: %s" % (
                name, ", ".join(s for s, _ in SPEC)))
    # every check is per key, as in config.schema.json (the schema cannot relate two keys)
    for section, keys in SPEC:
        _validate_section(section, keys, raw.get(section), cfg[section], errors)
    return cfg, errors


def _section(name):
    for s, keys in SPEC:
        if s == name:
            return keys
    return None


def _validate_section(section, keys, given, out, errors):
    if given is None:
        given = {}
    elif not isinstance(given, dict):
        errors.append("%s: must be an object {...}, got %s; using defaults" % (
            section, _typename(given)))
        given = {}
    known = [k[0] for k in keys]
    for name in sorted(given):
        if name not in known:
            errors.append("unknown key '%s.%s' (ignored); known keys in %s: %s" % (
                section, name, section, ", ".join(known)))
    for key, kind, default, a, b in keys:
        full = section + "." + key
        if default is None and given.get(key) in (None, ""):
            errors.append("%s: not set (it has no default); %s" % (full, _allowed(kind, a, b)))
            continue
        if key not in given:
            continue
        msg = _check(kind, given[key], a, b)
        if msg is None:
            # 20.0 is a whole number too (as in JSON Schema); the app gets an int
            out[key] = int(given[key]) if kind == "int" else _copy(given[key])
        else:
            shown = "" if default is None else "; using %s" % _show(kind, default)
            errors.append("%s: %s; %s%s" % (full, msg, _allowed(kind, a, b), shown))


def _check(kind, v, a, b):
    """None when v is a valid value of this kind, else what is wrong (never quoting secrets)."""
    if kind == "bool":
        return None if isinstance(v, bool) else "got " + _typename(v)
    if kind in ("int", "num"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return "got " + _typename(v)
        if not a <= v <= b:         # first: int() of inf or nan would raise
            return "%s is out of range" % v
        return "got " + _typename(v) if kind == "int" and v != int(v) else None
    if not isinstance(v, str) and kind != "strlist":
        return "got " + _typename(v)
    if kind == "str":
        return None if a <= len(v) <= b else "length %d is out of range" % len(v)
    if kind == "secret":
        return None if v == "" or a <= len(v) <= b else "has the wrong length (value not shown)"
    if kind == "enum":
        return None if v in a else "%s is not allowed" % _quote(v)
    if kind == "color":
        return None if (a and v == "none") or _is_color(v) else "%s is not a colour" % _quote(v)
    if kind == "path":
        ok = v.startswith("/") and len(v) <= a and " " not in v
        return None if ok else "%s is not a valid path" % _quote(v)
    return _check_strlist(v, a, b)


def _check_strlist(v, a, b):
    if not isinstance(v, list):
        return "got " + _typename(v)
    if not 1 <= len(v) <= a:
        return "has %d entries" % len(v)
    for item in v:
        if not isinstance(item, str) or not 1 <= len(item) <= b:
            return "has an invalid entry %s" % _quote(item)
    return None


def _is_color(v):
    if len(v) != 7 or v[0] != "#":
        return False
    for c in v[1:]:
        if c not in "0123456789abcdefABCDEF":
            return False
    return True


def _allowed(kind, a, b):
    if kind == "bool":
        return "allowed: true or false"
    if kind == "int":
        return "allowed: a whole number %d..%d" % (a, b)
    if kind == "num":
        return "allowed: a number %s..%s" % (a, b)
    if kind == "str":
        return "allowed: text of %d..%d characters" % (a, b)
    if kind == "secret":
        return "allowed: empty or %d..%d characters" % (a, b)
    if kind == "enum":
        return "allowed: " + ", ".join('"%s"' % c for c in a)
    if kind == "color":
        return 'allowed: "#RRGGBB"' + (' or "none"' if a else "")
    if kind == "path":
        return 'allowed: a path starting with "/", up to %d characters, no spaces' % a
    return "allowed: a list of 1..%d names of 1..%d characters" % (a, b)


def _show(kind, v):
    if kind == "secret":
        return "(empty)"
    return json.dumps(v)


def _quote(v):
    s = json.dumps(v) if isinstance(v, (str, int, float, bool)) or v is None else _typename(v)
    return s if len(s) <= 40 else s[:37] + '..."'


def _typename(v):
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, int):
        return "a whole number"
    if isinstance(v, float):
        return "a number with a fraction"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return "null" if v is None else "a " + type(v).__name__


# -- the RTSP password ------------------------------------------------------------------------

def new_password(n=16):
    """n random characters, about 5 bits each (79 bits for 16)."""
    import entropy
    out = ""
    while len(out) < n:
        for b in entropy.random_bytes(n):
            # 248 = 8 * 31: dropping bytes above it keeps every character equally likely
            if b < 248 and len(out) < n:
                out += _ALPHABET[b % 31]
    return out


def ensure_password(cfg, app_root, flash_root=None, log=None):
    """The RTSP password: from config.json, else secrets.json (app drive, then flash), else a
    new random one saved to secrets.json on the app drive (and on flash, so the same password
    still works when the camera falls back to flash). Returns (password, source) where source
    is "config", "secrets", "generated" or "unsaved". The value is never logged."""
    r = cfg["rtsp"]
    if r["password"]:
        return r["password"], "config"
    roots = [x for x in (app_root, flash_root) if x]
    for root in roots:
        pw = _read_secret(storage.join(root, SECRETS_FILE))
        if pw:
            _save_missing(pw, roots, log)
            r["password"] = pw
            return pw, "secrets"
    pw = new_password()
    saved = _save_missing(pw, roots, log)
    r["password"] = pw
    if log:
        import entropy
        if not entropy.HARDWARE:
            log.warning("this firmware has no hardware random source: the generated RTSP "
                        "password comes from timing jitter; set rtsp.password in config.json")
        if saved:
            log.warning("RTSP password generated: read it from %s on the camera drive",
                        SECRETS_FILE)
        else:
            log.error("RTSP password generated but could not be saved: clients cannot log in")
    return pw, "generated" if saved else "unsaved"


def _read_secret(path):
    text = storage.read_file(path)
    if not text:
        return None
    try:
        pw = json.loads(text).get("rtsp_password")
    except (ValueError, AttributeError):
        return None
    return pw if isinstance(pw, str) and 8 <= len(pw) <= 64 else None


def _save_missing(pw, roots, log):
    """Write secrets.json on each root that lacks it; True if at least one holds it now."""
    ok = False
    for root in roots:
        path = storage.join(root, SECRETS_FILE)
        if _read_secret(path) == pw:
            ok = True
            continue
        try:
            storage.write_atomic(path, json.dumps({"rtsp_password": pw}))
            ok = True
        except OSError as e:
            if log:
                log.warning("could not write %s on %s (%s)", SECRETS_FILE, root, e.args[0])
    return ok
