# config.json: every kind of broken file gives a message that names the key and the allowed
# values, the camera keeps running on defaults, and no secret appears in any message.
import json
import vfs
from fakes import RamDisk, put, ListLog
import appconfig
import storage

D = "/cfgtest"
WIFI_PW = "Wq7-secret-wifi"
RTSP_PW = "Rx4-secret-rtsp"
REPO = __file__.rsplit("/tests/", 1)[0]


def drive():
    try:
        vfs.umount(D)
    except OSError:
        pass
    vfs.mount(vfs.VfsFat(RamDisk(256)), D)


def load_text(text):
    drive()
    put(D + "/config.json", text)
    return appconfig.load(D + "/config.json")


def good():
    return {"wifi": {"ssid": "home", "password": WIFI_PW}, "rtsp": {"password": RTSP_PW}}


def no_secret(errors):
    for e in errors:
        assert WIFI_PW not in e and RTSP_PW not in e, e


def test_shipped_config_loads_with_only_the_wifi_name_missing():
    cfg, errors = appconfig.load(REPO + "/config.json")
    assert len(errors) == 1 and errors[0].startswith("wifi.ssid: not set"), errors
    assert cfg["rtsp"]["port"] == 554 and cfg["rtsp"]["path"] == "/stream"


def test_valid_config_has_no_errors_and_keeps_values():
    raw = good()
    raw["camera"] = {"quality": 60, "mode": "overlay"}
    cfg, errors = load_text(json.dumps(raw))
    assert errors == []
    assert cfg["camera"]["quality"] == 60 and cfg["camera"]["mode"] == "overlay"
    assert cfg["wifi"]["password"] == WIFI_PW
    assert cfg["camera"]["fps"] == 0               # untouched keys keep their defaults


def test_not_json():
    cfg, errors = load_text('{"wifi": {"ssid": "home", "password": "%s",}' % WIFI_PW)
    assert "not valid JSON" in errors[0]
    assert cfg["rtsp"]["port"] == 554
    no_secret(errors)


def test_missing_file():
    drive()
    cfg, errors = appconfig.load(D + "/config.json")
    assert "not found" in errors[0] and cfg["camera"]["mode"] == "hardware_jpeg"


def test_wrong_type_names_key_and_allowed_values():
    raw = good()
    raw["rtsp"]["port"] = "554"
    raw["power"] = {"deep_sleep": "yes"}
    cfg, errors = load_text(json.dumps(raw))
    want = "rtsp.port: got text; allowed: a whole number 1..65535"
    assert any(e.startswith(want) for e in errors), errors
    assert any(e.startswith("power.deep_sleep:") and "true or false" in e for e in errors)
    assert cfg["rtsp"]["port"] == 554 and cfg["power"]["deep_sleep"] is False


def test_out_of_range_and_bad_choice():
    raw = good()
    raw["camera"] = {"quality": 150, "subsampling": "444"}
    cfg, errors = load_text(json.dumps(raw))
    assert "camera.quality: 150 is out of range; allowed: a whole number 10..95; using 80" in errors
    assert any(e.startswith("camera.subsampling:") and '"422", "420"' in e for e in errors)
    assert cfg["camera"]["quality"] == 80 and cfg["camera"]["subsampling"] == "422"


def test_unknown_keys_are_named_with_the_known_ones():
    raw = good()
    raw["camera"] = {"qualty": 50}
    raw["rtps"] = {}
    cfg, errors = load_text(json.dumps(raw))
    assert any("'camera.qualty'" in e and "quality" in e for e in errors), errors
    assert any("'rtps'" in e and "rtsp" in e for e in errors), errors
    assert cfg["camera"]["quality"] == 80


def test_missing_wifi():
    cfg, errors = load_text(json.dumps({"camera": {}}))
    assert any(e.startswith("wifi.ssid: not set") and "1..32" in e for e in errors)
    cfg, errors = load_text(json.dumps({"wifi": {"ssid": ""}}))
    assert any(e.startswith("wifi.ssid: not set") for e in errors)


def test_wrong_shapes_never_crash():
    for text in ("[]", "null", "42", '"text"', '{"wifi": 5}', '{"wifi": {"ssid": ["a"]}}',
                 '{"time": {"ntp_servers": "pool.ntp.org"}}', '{"camera": null}'):
        cfg, errors = load_text(text)
        assert errors and cfg["rtsp"]["port"] == 554, text


def test_secrets_never_appear_in_messages():
    raw = good()
    raw["wifi"]["password"] = "short"                 # wrong length
    raw["rtsp"]["password"] = RTSP_PW * 10            # too long
    cfg, errors = load_text(json.dumps(raw))
    assert any(e.startswith("wifi.password:") and "value not shown" in e for e in errors)
    assert any(e.startswith("rtsp.password:") and "8..64" in e for e in errors)
    for e in errors:
        assert "short" not in e and RTSP_PW not in e, e
    raw["wifi"]["password"] = 12345678                # wrong type: the number is not shown
    cfg, errors = load_text(json.dumps(raw))
    for e in errors:
        assert "12345678" not in e, e


def test_masked_config_hides_secrets():
    cfg, _ = appconfig.validate(good())
    text = json.dumps(appconfig.masked(cfg))
    assert WIFI_PW not in text and RTSP_PW not in text
    assert appconfig.masked(cfg)["wifi"]["password"] == "(set)"
    assert cfg["wifi"]["password"] == WIFI_PW         # the real config is untouched


def test_schema_key_for_editors_is_accepted():
    raw = good()
    raw["$schema"] = "./config.schema.json"
    assert appconfig.validate(raw)[1] == []


def test_generated_password_is_saved_reused_and_never_logged():
    drive()
    flash = "/cfgflash"
    try:
        vfs.umount(flash)
    except OSError:
        pass
    vfs.mount(vfs.VfsFat(RamDisk(128)), flash)
    cfg, _ = appconfig.validate({"wifi": {"ssid": "home"}})
    log = ListLog()
    pw, how = appconfig.ensure_password(cfg, D, flash, log)
    assert how == "generated" and len(pw) == 16
    assert cfg["rtsp"]["password"] == pw
    for root in (D, flash):          # the user reads it from the card; flash keeps it for fallback
        saved = json.loads(storage.read_file(root + "/" + appconfig.SECRETS_FILE))
        assert saved["rtsp_password"] == pw
    assert pw not in log.text() and "secrets.json" in log.text()
    cfg2, _ = appconfig.validate({"wifi": {"ssid": "home"}})
    assert appconfig.ensure_password(cfg2, D, flash, log) == (pw, "secrets")
    # running from flash after the card failed: the same password still works
    cfg3, _ = appconfig.validate({"wifi": {"ssid": "home"}})
    assert appconfig.ensure_password(cfg3, flash, None, log) == (pw, "secrets")
    assert pw not in log.text()
    vfs.umount(flash)


def test_configured_password_wins():
    drive()
    cfg, _ = appconfig.validate(good())
    assert appconfig.ensure_password(cfg, D) == (RTSP_PW, "config")
    assert not storage.exists(D + "/" + appconfig.SECRETS_FILE)


def test_generated_passwords_are_random():
    seen = set()
    for _ in range(50):
        pw = appconfig.new_password()
        assert len(pw) == 16
        for c in pw:
            assert c in appconfig._ALPHABET
        seen.add(pw)
    assert len(seen) == 50


def test_password_without_a_hardware_random_source_4_5_2():
    # firmware 4.5.0-4.5.2 has no os.urandom: timing jitter, and a warning that says so
    import entropy
    saved = entropy.HARDWARE
    entropy.HARDWARE = False
    try:
        seen = set(appconfig.new_password() for _ in range(20))
        assert len(seen) == 20 and all(len(p) == 16 for p in seen)
        cfg, _ = appconfig.validate({"wifi": {"ssid": "home"}})
        log = ListLog()
        pw, how = appconfig.ensure_password(cfg, None, None, log)     # (no drive to save it)
    finally:
        entropy.HARDWARE = saved
    assert how == "unsaved" and len(pw) == 16 and pw not in log.text()
    assert "no hardware random source" in log.text() and "rtsp.password" in log.text()
