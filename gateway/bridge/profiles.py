"""Broker profiles: the limits of the brokers retail clouds run, by name (``mqtt.profile``).

A store's gateway talks to whatever broker its chain runs: a local mosquitto, a
managed broker (AWS IoT Core, Azure Event Grid, HiveMQ Cloud), an EMQX or
RabbitMQ cluster. Each takes a publish rate, a number of unacknowledged QoS 1
messages, a message size, protocol versions, keep-alives, session lifetimes,
client ids and topics within its own limits, and past them it throttles,
refuses or disconnects. A profile is that set of limits, with where each is
published (README, "Broker profiles"); :func:`resolve` turns the configuration
into what the bridge does (keys set explicitly win over the profile), and
:func:`problems` names every setting the broker could not carry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class BrokerProfile:
    name: str
    publish_rate: float | None  # publishes a second on one connection (None: no limit)
    inflight: int  # unacknowledged QoS 1 publishes at once
    max_message_bytes: int
    protocols: tuple[str, ...]  # the MQTT versions it speaks, the one to use first
    retained: bool
    session_expiry_max_s: float | None  # None: as long as asked
    keepalive_s: tuple[float, float]  # the keep-alives it accepts
    client_id_max: int  # bytes
    topic_max_bytes: int | None
    topic_max_levels: int | None
    billing_unit_bytes: int | None  # a message is metered in units of this size
    source: str


MQTT_MAX = 256 * MIB  # the protocol's own limit, where a broker publishes none

PROFILES: dict[str, BrokerProfile] = {
    p.name: p
    for p in (
        BrokerProfile(
            name="mosquitto",
            publish_rate=None,
            inflight=100,
            max_message_bytes=MQTT_MAX,
            protocols=("5", "3.1.1"),
            retained=True,
            session_expiry_max_s=None,
            keepalive_s=(5.0, 65535.0),
            client_id_max=65535,
            topic_max_bytes=65535,
            topic_max_levels=None,
            billing_unit_bytes=None,
            source="mosquitto.conf(5), 2.0: message_size_limit 0 (every valid message), "
            "max_keepalive 65535, persistent_client_expiration never, retain_available true",
        ),
        BrokerProfile(
            name="aws-iot-core",
            publish_rate=100.0,
            inflight=100,
            max_message_bytes=128 * KIB,
            protocols=("5", "3.1.1"),
            retained=True,
            session_expiry_max_s=7 * 86400.0,
            keepalive_s=(30.0, 1200.0),
            client_id_max=128,
            topic_max_bytes=256,
            topic_max_levels=8,
            billing_unit_bytes=5 * KIB,
            source="AWS IoT Core endpoints and quotas (message broker: 100 publishes/s and 100 "
            "unacknowledged QoS 1 per connection, 128 KB); AWS IoT developer guide, MQTT "
            "(session expiry up to 7 days, QoS 2 not supported) and limits (keep-alive "
            "30-1200 s, client id 128 B, topic 256 B and 7 slashes); metering in 5 KB",
        ),
        BrokerProfile(
            name="azure-event-grid",
            publish_rate=1000.0,
            inflight=1000,
            max_message_bytes=512 * KIB,
            protocols=("5", "3.1.1"),
            retained=True,
            session_expiry_max_s=8 * 3600.0,
            keepalive_s=(5.0, 1160.0),
            client_id_max=128,
            topic_max_bytes=256,
            topic_max_levels=15,
            billing_unit_bytes=None,
            source="Azure Event Grid quotas and limits, MQTT broker (2025: 1,000 inbound "
            "messages/s and in flight per session, 512 KB, keep-alive 1,160 s, topics 256 B "
            "and 15 segments, session expiry up to 8 h); MQTT retain (preview)",
        ),
        BrokerProfile(
            name="hivemq-cloud",
            publish_rate=None,
            inflight=100,
            max_message_bytes=MQTT_MAX,
            protocols=("5", "3.1.1"),
            retained=True,
            session_expiry_max_s=None,
            keepalive_s=(5.0, 65535.0),
            client_id_max=65535,
            topic_max_bytes=65535,
            topic_max_levels=None,
            billing_unit_bytes=5 * KIB,
            source="HiveMQ Cloud FAQ (PUBLISH packets billed in units of 5 KB); its per-tier "
            "limits are not published: MQTT's own and the gateway's defaults apply",
        ),
        BrokerProfile(
            name="emqx",
            publish_rate=None,
            inflight=32,
            max_message_bytes=1 * MIB,
            protocols=("5", "3.1.1"),
            retained=True,
            session_expiry_max_s=None,
            keepalive_s=(5.0, 65535.0),
            client_id_max=65535,
            topic_max_bytes=65535,
            topic_max_levels=128,
            billing_unit_bytes=None,
            source="EMQX 5 MQTT configuration defaults: max_packet_size 1MB, max_inflight 32, "
            "max_topic_levels 128, max_clientid_len 65535; retainer max_payload_size 1MB",
        ),
        BrokerProfile(
            name="rabbitmq",
            publish_rate=None,
            inflight=10,
            max_message_bytes=128 * MIB,
            protocols=("3.1.1",),
            retained=True,
            session_expiry_max_s=86400.0,
            keepalive_s=(5.0, 65535.0),
            client_id_max=65535,
            topic_max_bytes=255,
            topic_max_levels=None,
            billing_unit_bytes=None,
            source="RabbitMQ MQTT plugin guide, 3.10 (MQTT 3.1.1 only, MQTT 5 from 3.13; QoS 2 "
            "as QoS 1; retained messages per node; mqtt.prefetch 10; subscription_ttl 24 h); "
            "max_message_size 128 MB; AMQP routing keys are 255 bytes at most",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """What the bridge does on this broker: the profile's limits with the keys set."""

    profile: BrokerProfile
    protocol: str
    inflight: int
    publish_rate: float | None
    max_message_bytes: int
    keepalive_s: float
    session_expiry_s: float


def resolve(
    profile: str,
    *,
    protocol: str | None = None,
    inflight: int | None = None,
    publish_rate: float | None = None,
    max_message_bytes: int | None = None,
    keepalive_s: float = 30.0,
    session_expiry_s: float | None = None,
) -> BrokerLimits:
    """The limits for ``profile``; arguments given (keys set explicitly) win over it.
    KeyError for an unknown profile (the configuration allows only known names)."""
    p = PROFILES[profile]
    expiry = session_expiry_s if session_expiry_s is not None else 86400.0
    if session_expiry_s is None and p.session_expiry_max_s is not None:
        expiry = min(expiry, p.session_expiry_max_s)
    return BrokerLimits(
        profile=p,
        protocol=protocol or p.protocols[0],
        inflight=inflight or p.inflight,
        publish_rate=publish_rate if publish_rate is not None else p.publish_rate,
        max_message_bytes=max_message_bytes or p.max_message_bytes,
        keepalive_s=keepalive_s,
        session_expiry_s=expiry,
    )


def problems(
    limits: BrokerLimits, *, client_id: str, topics: list[str], largest_message: int
) -> list[str]:
    """Every setting this broker could not carry, each naming the key and the limit."""
    p, out = limits.profile, []
    name = f"the {p.name} profile"
    if limits.protocol not in p.protocols:
        out.append(
            f"mqtt.protocol: {p.name} speaks MQTT {' and '.join(p.protocols)}, not "
            f'{limits.protocol}; set mqtt.protocol = "{p.protocols[0]}" or choose another '
            "mqtt.profile"
        )
    if limits.inflight > p.inflight:
        out.append(
            f"mqtt.inflight: {limits.inflight} is more than {name} allows unacknowledged "
            f"({p.inflight}); the broker would throttle or disconnect"
        )
    if p.publish_rate is not None and (
        limits.publish_rate is None or limits.publish_rate > p.publish_rate
    ):
        shown = "no limit" if limits.publish_rate is None else f"{limits.publish_rate:g}/s"
        out.append(
            f"mqtt.publish_rate: {shown} is more than {name} takes on one connection "
            f"({p.publish_rate:g}/s)"
        )
    if limits.max_message_bytes > p.max_message_bytes:
        out.append(
            f"mqtt.max_message_bytes: {limits.max_message_bytes} is more than {name} "
            f"takes ({p.max_message_bytes})"
        )
    if largest_message > limits.max_message_bytes:
        out.append(
            f"telemetry.batch_max_bytes: batches of up to {largest_message} bytes do not fit "
            f"the broker's messages ({limits.max_message_bytes} bytes at most)"
        )
    low, high = p.keepalive_s
    if not low <= limits.keepalive_s <= high:
        out.append(
            f"mqtt.keepalive: {limits.keepalive_s:g} s is outside what {name} accepts "
            f"({low:g}-{high:g} s)"
        )
    if p.session_expiry_max_s is not None and limits.session_expiry_s > p.session_expiry_max_s:
        out.append(
            f"mqtt.session_expiry: {limits.session_expiry_s:g} s is longer than {name} keeps "
            f"a session ({p.session_expiry_max_s:g} s)"
        )
    if len(client_id.encode()) > p.client_id_max:
        out.append(
            f"mqtt.client_id: {len(client_id.encode())} bytes is longer than {name} takes "
            f"({p.client_id_max})"
        )
    for topic in topics:
        size, levels = len(topic.encode()), topic.count("/") + 1
        if p.topic_max_bytes is not None and size > p.topic_max_bytes:
            out.append(
                f"mqtt.topic_prefix: topic {topic} is {size} bytes, more than {name} takes "
                f"({p.topic_max_bytes})"
            )
            break
        if p.topic_max_levels is not None and levels > p.topic_max_levels:
            out.append(
                f"mqtt.topic_prefix: topic {topic} has {levels} levels, more than {name} "
                f"takes ({p.topic_max_levels})"
            )
            break
    return out


def billed_units(size: int, unit: int | None) -> int:
    """A message of ``size`` bytes, in the broker's metering units (1 if it has none)."""
    return 1 if not unit else max(1, math.ceil(size / unit))


class TokenBucket:
    """At most ``rate`` takes a second, in bursts of at most ``burst``."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._at = now

    def wait(self, now: float) -> float:
        """Seconds to wait before the next take is allowed (0: take it now, and taken)."""
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0 - 1e-9:  # a wait computed to the token may fall just short
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate
