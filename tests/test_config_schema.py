"""config.schema.json (for editors) and the firmware's validator (lib/appconfig.py, run in
real MicroPython) must tell users the same thing: same keys, defaults, ranges and choices,
and the same verdict on every boundary and wrong-type value. The shipped config.json must
pass both, except for the one setting the user has to fill in: wifi.ssid."""
import copy
import json
import re

import pytest

from tools import mpy

pytestmark = pytest.mark.quick

ROOT = mpy.ROOT
SCHEMA = json.loads((ROOT / "config.schema.json").read_text())
SHIPPED = json.loads((ROOT / "config.json").read_text())

_DUMP_SPEC = """
import appconfig, json
print(json.dumps([[s, [list(k) for k in keys]] for s, keys in appconfig.SPEC]))
"""

_VALIDATE_MANY = """
import sys, json, appconfig
with open(sys.argv[1]) as f:
    cases = json.load(f)
out = []
for raw in cases:
    cfg, errors = appconfig.validate(raw)
    out.append([cfg, errors])
print(json.dumps(out))
"""

# one base config and many single-key changes; one line of errors per change (the camera's
# heap is small: never hold all the cases' configs at once)
_VALIDATE_PROBES = """
import sys, json, appconfig
with open(sys.argv[1]) as f:
    job = json.load(f)
text = json.dumps(job["base"])
for section, name, v in job["changes"]:
    raw = json.loads(text)
    raw[section][name] = v
    print(json.dumps(appconfig.validate(raw)[1]))
"""


def run_mp(code, tmp_path, *args):
    script = tmp_path / "snippet.py"
    script.write_text(code)
    proc = mpy.run(script, [mpy.LIB], args, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return run_mp(_DUMP_SPEC, tmp_path_factory.mktemp("spec"))


# -- a JSON Schema checker: the jsonschema package when installed, else this subset --------
# The subset knows exactly the keywords config.schema.json uses and refuses any other, so a
# schema feature can never be ignored silently.
_KNOWN = {"$schema", "title", "description", "type", "properties", "additionalProperties",
          "required", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern",
          "items", "minItems", "maxItems", "anyOf", "default", "writeOnly"}


def _is_type(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return (isinstance(v, int) and not isinstance(v, bool)) or \
            (isinstance(v, float) and v.is_integer())
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise AssertionError("type " + t)


def subset_errors(schema, v, path=""):
    unknown = set(schema) - _KNOWN
    assert not unknown, "schema keyword(s) the test does not check: %s" % unknown
    errs = []
    if "type" in schema and not _is_type(v, schema["type"]):
        return [path + ": type"]
    if "enum" in schema and v not in schema["enum"]:
        errs.append(path + ": enum")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and not v >= schema["minimum"]:
            errs.append(path + ": minimum")
        if "maximum" in schema and not v <= schema["maximum"]:
            errs.append(path + ": maximum")
    if isinstance(v, str):
        if "minLength" in schema and len(v) < schema["minLength"]:
            errs.append(path + ": minLength")
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append(path + ": maxLength")
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append(path + ": pattern")
    if "anyOf" in schema and not any(not subset_errors(s, v, path) for s in schema["anyOf"]):
        errs.append(path + ": anyOf")
    if isinstance(v, list):
        if "minItems" in schema and len(v) < schema["minItems"]:
            errs.append(path + ": minItems")
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append(path + ": maxItems")
        for i, item in enumerate(v):
            errs += subset_errors(schema.get("items", {}), item, "%s/%d" % (path, i))
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append("%s/%s: required" % (path, k))
        for k, item in v.items():
            if k in props:
                errs += subset_errors(props[k], item, "%s/%s" % (path, k))
            elif schema.get("additionalProperties") is False:
                errs.append("%s/%s: additionalProperties" % (path, k))
    return errs


def schema_errors(v):
    try:
        import jsonschema
    except ImportError:
        return subset_errors(SCHEMA, v)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return ["/" + "/".join(map(str, e.absolute_path)) + ": " + e.validator
            for e in validator.iter_errors(v)]


# -- tests ---------------------------------------------------------------------------------

def test_schema_is_draft_2020_12_and_well_formed():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    try:
        import jsonschema
    except ImportError:
        subset_errors(SCHEMA, {})          # walks the top level: unknown keywords fail
        for sec in SCHEMA["properties"].values():
            for prop in sec.get("properties", {}).values():
                assert set(prop) <= _KNOWN, set(prop) - _KNOWN
        return
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_shipped_config_names_every_setting(spec):
    for section, keys in spec:
        assert set(SHIPPED[section]) == {k[0] for k in keys}, section
    assert set(SHIPPED) - {"$schema"} == {s for s, _ in spec}


def test_shipped_config_passes_the_schema_once_wifi_is_named():
    assert schema_errors(SHIPPED) == ["/wifi/ssid: minLength"]
    named = copy.deepcopy(SHIPPED)
    named["wifi"]["ssid"] = "home"
    assert schema_errors(named) == []


def test_shipped_config_passes_the_validator_once_wifi_is_named(tmp_path):
    named = copy.deepcopy(SHIPPED)
    named["wifi"]["ssid"] = "home"
    (as_shipped, errs1), (cfg, errs2) = run_mp(_VALIDATE_MANY, tmp_path,
                                               _cases(tmp_path, [SHIPPED, named]))
    assert len(errs1) == 1 and errs1[0].startswith("wifi.ssid: not set")
    assert errs2 == []
    # the shipped values are the defaults: shipping a config changes nothing
    for section, keys in named.items():
        if section != "$schema":
            assert cfg[section] == keys


def test_schema_and_validator_agree_on_defaults_ranges_and_choices(spec):
    props = SCHEMA["properties"]
    assert set(props) - {"$schema"} == {s for s, _ in spec}
    for section, keys in spec:
        sch = props[section]
        assert sch["additionalProperties"] is False
        assert set(sch["properties"]) == {k[0] for k in keys}
        assert set(sch.get("required", [])) == {k[0] for k in keys if k[2] is None}
        for name, kind, default, a, b in keys:
            p = sch["properties"][name]
            where = section + "." + name
            assert p.get("default") == default, where
            assert p.get("description"), where + " has no description for editors"
            if kind in ("int", "num"):
                assert (p["type"], p["minimum"], p["maximum"]) == (
                    "integer" if kind == "int" else "number", a, b), where
            elif kind == "enum":
                assert p["enum"] == a, where
            elif kind == "str":
                assert (p["minLength"], p["maxLength"]) == (a, b), where
            elif kind == "strlist":
                assert (p["maxItems"], p["items"]["maxLength"]) == (a, b), where


def _probes(kind, default, a, b):
    """Values around every limit of a setting, and values of the wrong type."""
    wrong = [None, True, "text", 3.5, [], {}, 7]
    if kind == "bool":
        return [True, False, 0, 1, "true", None]
    if kind in ("int", "num"):
        vals = [a, b, a - 1, b + 1, (a + b) // 2, float(a), float(b), "%d" % a, True, None]
        if kind == "num":
            vals += [a - 0.01, b + 0.01, (a + b) / 2.0]
        else:
            vals += [a + 0.5]
        return vals
    if kind in ("str", "secret"):
        return ["", "x" * max(a - 1, 0), "x" * a, "x" * b, "x" * (b + 1), 5, None, ["x" * a]]
    if kind == "enum":
        return list(a) + [a[0].upper() + "x", "", 1, None]
    if kind == "color":
        return ["#00ff00", "#00FF0", "00FF00", "#GG0000", "none", "None", "", 1]
    if kind == "path":
        return ["/", "/stream", "stream", "/a b", "/" + "x" * (a - 1), "/" + "x" * a, 1]
    if kind == "strlist":
        return [["a"], [], ["a"] * a, ["a"] * (a + 1), ["x" * b], ["x" * (b + 1)], [""], [1],
                "pool.ntp.org"]
    return wrong


def _cases(tmp_path, cases):
    p = tmp_path / "cases.json"
    p.write_text(json.dumps(cases))
    return p


def test_schema_and_validator_agree_on_every_boundary_value(spec, tmp_path):
    base = copy.deepcopy(SHIPPED)
    base["wifi"]["ssid"] = "home"
    changes = [[section, name, v] for section, keys in spec
               for name, kind, default, a, b in keys for v in _probes(kind, default, a, b)]
    script = tmp_path / "probes.py"
    script.write_text(_VALIDATE_PROBES)
    proc = mpy.run(script, [mpy.LIB], [_cases(tmp_path, {"base": base, "changes": changes})])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(changes)
    for (section, name, v), errors in zip(changes, results):
        raw = copy.deepcopy(base)
        raw[section][name] = v
        schema_ok = schema_errors(raw) == []
        mine = [e for e in errors if e.startswith(section + "." + name + ":")]
        assert schema_ok == (not mine), "%s.%s = %r: schema %s, validator %s" % (
            section, name, v, "accepts" if schema_ok else "rejects", mine or "accepts")
        if mine:
            # the message names the key and what is allowed
            assert "allowed" in mine[0], mine[0]


def test_unknown_keys_are_reported_by_both(tmp_path):
    raw = copy.deepcopy(SHIPPED)
    raw["wifi"]["ssid"] = "home"
    raw["camera"]["qualty"] = 50
    raw["extras"] = {}
    (cfg, errors), = run_mp(_VALIDATE_MANY, tmp_path, _cases(tmp_path, [raw]))
    assert sorted(schema_errors(raw)) == ["/camera/qualty: additionalProperties",
                                          "/extras: additionalProperties"]
    assert any("'camera.qualty'" in e and "quality" in e for e in errors), errors
    assert any("'extras'" in e for e in errors), errors
