"""Firmware profiles: what each OpenMV firmware version offers, extracted from its sources.

One JSON file per version (see /work/notes/profile_schema.md and README.md here), written by
extract.py (run by hand) and read by the emulator and the tests. Pure CPython.
"""
import copy
import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
# Short names accepted by --firmware / Options.firmware.
ALIASES = {"4.5": "4.5.9", "4.6": "4.6.20", "4.7": "4.7.0", "4.8": "4.8.1", "5.0": "5.0.0"}
_cache = {}


def _key(v):
    return tuple(int(x) for x in v.split("."))


def names():
    """Full versions with a profile, oldest first."""
    return sorted((f[:-5] for f in os.listdir(_HERE) if f.endswith(".json")), key=_key)


def resolve(name):
    """Full version for a short or full name; ValueError for an unknown one."""
    name = str(name).lstrip("v")
    name = ALIASES.get(name, name)
    if name not in names():
        raise ValueError("unknown firmware %r (known: %s)" % (name, ", ".join(sorted(ALIASES) + names())))
    return name


def load(name):
    """The profile dict of a firmware version (short or full name): a copy of its own, so a
    caller that changes it (a test making up a firmware) cannot change anyone else's."""
    full = resolve(name)
    if full not in _cache:
        with open(os.path.join(_HERE, full + ".json")) as f:
            _cache[full] = json.load(f)
    return copy.deepcopy(_cache[full])
