"""Broker profiles: the limits by name, keys set explicitly winning, what a broker could
not carry named by key, and the publish rate as a token bucket."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.bridge.profiles import PROFILES, TokenBucket, billed_units, resolve
from gateway.config.load import load_config
from gateway.daemon.settings import settings_from_config
from tests.unit.test_config import MINIMAL, problems, write


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_carries_the_default_configuration(tmp_path: Path, profile: str) -> None:
    config = load_config(write(tmp_path, MINIMAL + f'[mqtt]\nprofile = "{profile}"\n'), environ={})
    bridge = settings_from_config(config).bridge
    assert bridge is not None
    p = PROFILES[profile]
    m = bridge.mqtt
    assert m.protocol == p.protocols[0] and m.inflight == p.inflight
    assert m.publish_rate == p.publish_rate and m.max_message_bytes == p.max_message_bytes
    if p.session_expiry_max_s is not None:
        assert m.session_expiry_s <= p.session_expiry_max_s


def test_keys_set_explicitly_win_over_the_profile(tmp_path: Path) -> None:
    text = MINIMAL + '[mqtt]\nprofile = "aws-iot-core"\ninflight = 20\npublish_rate = 50\n'
    bridge = settings_from_config(load_config(write(tmp_path, text), environ={})).bridge
    assert bridge is not None
    assert (bridge.mqtt.inflight, bridge.mqtt.publish_rate) == (20, 50.0)
    assert bridge.mqtt.max_message_bytes == 128 * 1024  # the profile's, not set


AWS = 'profile = "aws-iot-core"\n'
THE_AWS = "than the aws-iot-core profile"


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        (
            'profile = "rabbitmq"\nprotocol = "5"',
            'rabbitmq speaks MQTT 3.1.1, not 5; set mqtt.protocol = "3.1.1"',
        ),
        (AWS + "inflight = 200", f"mqtt.inflight: 200 is more {THE_AWS} allows unacknowledged"),
        (AWS + "publish_rate = 500", f"mqtt.publish_rate: 500/s is more {THE_AWS} takes on one"),
        (AWS + 'keepalive = "10s"', "mqtt.keepalive: 10 s is outside what the aws-iot-core"),
        (AWS + 'session_expiry = "30d"', f"mqtt.session_expiry: 2.592e+06 s is longer {THE_AWS}"),
        (AWS + f'client_id = "{"c" * 200}"', f"mqtt.client_id: 200 bytes is longer {THE_AWS}"),
        (AWS + 'topic_prefix = "a/b/c/d"', f"levels, more {THE_AWS} takes (8)"),
        ("max_message_bytes = 32768", "telemetry.batch_max_bytes: batches of up to 65536 bytes"),
    ],
)
def test_what_the_broker_cannot_carry_is_named(tmp_path: Path, keys: str, words: str) -> None:
    found = problems(write(tmp_path, MINIMAL + "[mqtt]\n" + keys + "\n"))
    assert any(words in p and p.startswith(("mqtt.", "telemetry.")) for p in found), found
    assert not any("is not valid" in p for p in found), found  # no dump of the input


def test_an_unknown_profile_is_named(tmp_path: Path) -> None:
    found = problems(write(tmp_path, MINIMAL + '[mqtt]\nprofile = "kafka"\n'))
    assert any("mqtt.profile" in p and "aws-iot-core" in p for p in found), found


def test_the_token_bucket_keeps_the_rate_with_a_small_burst() -> None:
    bucket = TokenBucket(100.0, 10.0, now=0.0)
    now, taken = 0.0, []
    while now < 2.0:
        wait = bucket.wait(now)
        if wait == 0:
            taken.append(now)
        else:
            now += wait
    assert 10 + 199 <= len(taken) <= 10 + 200  # the burst, then 100 a second
    for start in (0.0, 0.5, 1.0):
        in_second = [t for t in taken if start <= t < start + 1.0]
        assert len(in_second) <= 100 + 10  # never more than the rate and one burst
    assert TokenBucket(5.0, 0.1, now=0.0).burst == 1.0  # one at least


def test_billing_units() -> None:
    assert billed_units(100, 5 * 1024) == 1 and billed_units(5 * 1024 + 1, 5 * 1024) == 2
    assert billed_units(200_000, None) == 1
    assert resolve("mosquitto").publish_rate is None
