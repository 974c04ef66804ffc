from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from gateway.config.durations import parse_duration
from gateway.config.load import ConfigError, load_config
from gateway.config.model import LoggingConfig
from gateway.daemon.settings import settings_from_config
from gateway.logging import configure_logging

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "gateway.example.toml"
MINIMAL = 'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "/tmp/x"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text)
    return path


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=env or {})
    return info.value.problems


def test_example_config_is_valid_and_maps_to_settings() -> None:
    config = load_config(EXAMPLE, environ={})
    assert config.store_id == "store-0042" and config.mqtt.port == 1883
    rule = config.alerts.rules[0]
    assert (rule.name, rule.above, rule.clear, rule.for_) == ("fridge-too-warm", 5.0, 4.5, 300.0)
    settings = settings_from_config(config)
    names = [r.name for r in settings.alert_rules]
    assert "fridge-too-warm" in names and "device-offline" in names
    fridge = next(r for r in settings.alert_rules if r.name == "fridge-too-warm")
    assert fridge.selector.tags == frozenset({"fridge"}) and fridge.for_s == 300


def test_environment_overrides_nested_keys(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[mqtt]\nport = 1883\n")
    env = {"STOREGW_MQTT__PORT": "8883", "STOREGW_MQTT__TLS__ENABLED": "true", "HOME": "/root"}
    config = load_config(path, environ=env)
    assert config.mqtt.port == 8883 and config.mqtt.tls.enabled is True


def test_unknown_environment_setting_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    assert problems(path, {"STOREGW_MQQT__PORT": "1"}) == [
        "environment STOREGW_MQQT__PORT: unknown setting 'mqqt' (did you mean 'mqtt'?) "
        "(known: alerts, ble, buffer, "
        "data_dir, device_state, energy, gateway_id, labels, logging, mqtt, multi_gateway, prices, "
        "registry, security, store_id, telemetry, web)"
    ]


def test_typo_wrong_type_and_missing_value_are_all_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'store_id = "s1"\ndata_dir = "/tmp/x"\n[mqtt]\nhots = "broker"\nport = "eighty"\n',
    )
    found = problems(path)
    assert any(p.startswith("gateway_id: missing") for p in found), found
    assert any(p.startswith("mqtt.hots: unknown key") for p in found), found
    assert any(p.startswith("mqtt.port: 'eighty' is not valid") for p in found), found
    assert len(found) == 3


def test_values_out_of_range_and_alert_rules(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[mqtt]\nport = 70000\n"
        '[[alerts.rules]]\nname = "r"\nmetric = "temperature_c"\nabove = 5\nclear = 6\n'
        '[[alerts.rules]]\nname = "q"\nmetric = "x"\n'
    )
    found = problems(write(tmp_path, text))
    assert "mqtt.port: 70000 is not valid: Input should be less than or equal to 65535" in found
    assert any("clear (6.0) must not be above the threshold (5.0)" in p for p in found)
    assert any("give exactly one of above or below" in p for p in found)


def test_file_problems(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: no such file"]
    bad = write(tmp_path, 'store_id = "s1\n')
    [line] = problems(bad)
    assert "TOML syntax error" in line and "line 1" in line


def test_durations() -> None:
    assert parse_duration("90s") == 90 and parse_duration("5m") == 300
    assert parse_duration("1h") == 3600 and parse_duration(2.5) == 2.5
    assert parse_duration("250ms") == 0.25
    for bad in ("5 minutes", "-1", True, None):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_check_config_exit_codes(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(EXAMPLE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = write(tmp_path, 'store_id = "S 1"\n')
    out = subprocess.run(
        [sys.executable, "-m", "gateway", "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 78
    assert "store_id: 'S 1' is not valid" in out.stderr
    assert "gateway_id: missing" in out.stderr and out.stdout == ""


def test_json_logs_route_stdlib_and_apply_levels() -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(format="json", levels={"bleak": "warning"}), stream)
    structlog.get_logger("gateway.test").info("hello", device="c4d912ab0f31")
    logging.getLogger("bleak.backends").info("hidden")
    logging.getLogger("bleak.backends").warning("shown %s", 1)
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["event"], x["level"], x["logger"]) for x in lines] == [
        ("hello", "info", "gateway.test"),
        ("shown 1", "warning", "bleak.backends"),
    ]
    assert lines[0]["device"] == "c4d912ab0f31" and "timestamp" in lines[0]


def test_journald_lines_have_priority_and_no_timestamp() -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(journald=True), stream)
    structlog.get_logger("gateway.test").warning("careful")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("gateway.test").exception("failed")
    first, second = stream.getvalue().splitlines()
    assert first.startswith("<4>{") and "timestamp" not in first
    assert second.startswith("<3>{") and "RuntimeError: boom" in json.loads(second[3:])["exception"]


def test_environment_values_for_lists_and_tables_are_json(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    env = {
        "STOREGW_BLE__ADAPTERS": '["hci0", "hci1"]',
        "storegw_registry__tags": '{"aabbccddeeff": ["fridge"]}',
        "STOREGW_MQTT__CLIENT_ID": "[not json]",
    }
    config = load_config(path, environ=env)
    assert config.ble.adapters == ["hci0", "hci1"]
    assert config.registry.tags == {"aabbccddeeff": ["fridge"]}
    assert config.mqtt.client_id == "[not json]"  # text stays text
    assert any("mqtt.prot" in p for p in problems(path, {"STOREGW_MQTT__PROT": "1"}))
    assert any("ble.adapters" in p for p in problems(path, {"STOREGW_BLE__ADAPTERS": "[hci0"}))


def test_several_gateways_need_the_broker(tmp_path: Path) -> None:
    text = MINIMAL + "[mqtt]\nenabled = false\n[multi_gateway]\nenabled = true\n"
    found = problems(write(tmp_path, text))
    assert any("multi_gateway.enabled needs mqtt.enabled" in p for p in found), found
    ok = write(tmp_path, MINIMAL + '[multi_gateway]\nenabled = true\nhold = "2m"\n')
    settings = settings_from_config(load_config(ok, environ={}))
    assert settings.ownership is not None and settings.ownership.hold_s == 120.0
    assert settings_from_config(load_config(write(tmp_path, MINIMAL), environ={})).ownership is None


ENERGY = """
[energy]
timezone = "Europe/Berlin"
closed = [2026-12-25]
[energy.hours]
mon = "08:00-20:00"
sat = "09:00-18:00"
[[energy.controllers]]
id = "bms"
host = "127.0.0.1"
[[energy.hvac]]
name = "sales"
controller = "bms"
unit = 1
[[energy.lights]]
name = "lights"
controller = "bms"
unit = 2
registers = { setpoint = 7, temperature = 8 }
"""


def test_energy_zones_map_to_the_loop_and_mistakes_are_named(tmp_path: Path) -> None:
    settings = settings_from_config(load_config(write(tmp_path, MINIMAL + ENERGY), environ={}))
    energy = settings.energy
    assert energy is not None
    assert energy.calendar.hours[0] == (8 * 60, 20 * 60) and energy.calendar.hours[1] is None
    assert [z.name for z in energy.zones.hvac] == ["sales"]
    assert energy.links["lights"].registers.unit == 2
    assert energy.links["lights"].registers.setpoint == 7
    assert {"energy-controller-unreachable", "energy-write-not-taking"} <= {
        r.name for r in settings.alert_rules
    }
    for wrong, message in (
        (
            ENERGY.replace('controller = "bms"\nunit = 2', 'controller = "hvac"\nunit = 2'),
            "not among",
        ),
        (ENERGY.replace('"08:00-20:00"', '"8-20"'), "HH:MM-HH:MM"),
        (ENERGY.replace('"08:00-20:00"', '"20:00-08:00"'), "not open < close"),
        (ENERGY.replace('"Europe/Berlin"', '"Mars/Olympus"'), "unknown time zone"),
        (ENERGY.replace("unit = 1", "unit = 1\nband = [10.0, 30.0]"), "within limits"),
    ):
        found = problems(write(tmp_path, MINIMAL + wrong))
        assert any(message in p for p in found), (message, found)
    assert settings_from_config(load_config(write(tmp_path, MINIMAL), environ={})).energy is None


def test_price_rules_are_checked_by_name_and_limit(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + '[prices]\ncurrency = "CNY"\n[prices.rules]\n'
        + 'max-dorp = { mode = "hold" }\nmax-drop = { mode = "hold", pct = 0 }\n',
    )
    found = problems(path)
    assert any("prices.rules.max-dorp: unknown key" in p for p in found), found
    assert any("prices.rules.max-drop.pct: 0 is not valid" in p for p in found), found
    path = write(tmp_path, MINIMAL + '[prices.rules]\nmax-rise = { mode = "warn", days = 3 }\n')
    assert any(
        "price rule max-rise: unknown key 'days'; it takes mode, pct" in p for p in problems(path)
    )
    ok = write(
        tmp_path,
        MINIMAL
        + '[prices]\ncurrency = "EUR"\n[prices.rules]\nmax-drop = { mode = "warn", pct = 30 }\n',
    )
    from gateway.daemon.settings import price_rules

    rules = price_rules(load_config(ok, environ={}))
    assert rules.currency == "EUR" and rules.settings["max-drop"].mode == "warn"
    assert rules.settings["max-drop"].limit == 30


def test_an_environment_override_is_named_as_such_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    found = problems(path, {"STOREGW_MQTT__PROT": "8883", "STOREGW_MQTT__PORT": "eighty"})
    assert any(
        p.startswith(
            "environment STOREGW_MQTT__PROT (mqtt.prot): unknown key (did you mean 'port'?)"
        )
        for p in found
    ), found
    assert any(
        p.startswith("environment STOREGW_MQTT__PORT (mqtt.port): 'eighty' is not valid")
        for p in found
    )
    assert problems(path, {"STOREGW_MQQT__PORT": "1"})[0].startswith(
        "environment STOREGW_MQQT__PORT: unknown setting 'mqqt' (did you mean 'mqtt'?)"
    )


def test_a_misspelt_key_in_the_file_gets_the_likeliest_one(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[labels]\nslots_per_adaptor = 3\n")
    assert problems(path) == [
        "labels.slots_per_adaptor: unknown key (did you mean 'slots_per_adapter'?) "
        "(check the spelling; every key is listed in config/gateway.example.toml)"
    ]


def test_check_config_prints_environment_problems_without_blaming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.cli import main

    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("STOREGW_MQTT__PROT", "1")
    assert main(["check-config", "--config", str(path)]) == 78
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("environment STOREGW_MQTT__PROT (mqtt.prot): unknown key")
    assert err[-1] == f"{path}: 1 problem(s); nothing was changed"


def test_unverified_layouts_are_opted_in_per_id_and_checked(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[labels]\nunverified_layouts = [0x0008, 0x000B]\n")
    found = problems(path)
    assert any(
        "labels.unverified_layouts" in p and "0x000b has a verified layout" in p for p in found
    ), found
    ok = write(tmp_path, MINIMAL + "[labels]\nunverified_layouts = [0x0008, 0x0228]\n")
    from gateway.daemon.settings import settings_from_config

    settings = settings_from_config(load_config(ok, environ={}))
    assert settings.labels.unverified_layouts == frozenset({0x0008, 0x0228})
