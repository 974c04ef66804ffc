"""The broker profile applied to a configuration: what the bridge uses, and what the
broker could not carry (``check-config`` names each)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.bridge.profiles import BrokerLimits, problems, resolve
from gateway.contract.topics import Topics

if TYPE_CHECKING:
    from gateway.config.model import GatewayConfig

LONGEST_DEVICE_ID = "f" * 12


def client_id(config: GatewayConfig) -> str:
    return config.mqtt.client_id or f"storegw-{config.store_id}-{config.gateway_id}"


def broker_limits(config: GatewayConfig) -> BrokerLimits:
    """The profile's limits, with the keys the configuration sets explicitly."""
    m = config.mqtt
    given = m.model_fields_set
    return resolve(
        m.profile,
        protocol=m.protocol if "protocol" in given else None,
        inflight=m.inflight if "inflight" in given else None,
        publish_rate=m.publish_rate,
        max_message_bytes=m.max_message_bytes,
        keepalive_s=m.keepalive,
        session_expiry_s=m.session_expiry if "session_expiry" in given else None,
    )


def broker_problems(config: GatewayConfig) -> list[str]:
    t = Topics(config.mqtt.topic_prefix, config.store_id, config.gateway_id)
    topics = [
        t.status,
        t.telemetry,
        t.events,
        t.acks,
        t.reviews,
        t.device_state(LONGEST_DEVICE_ID),
        t.claim(LONGEST_DEVICE_ID),
        t.hearing("f"),
    ]
    return problems(
        broker_limits(config),
        client_id=client_id(config),
        topics=topics,
        largest_message=config.telemetry.batch_max_bytes,
    )
