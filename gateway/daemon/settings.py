"""From the validated configuration to the components' own option values."""

from __future__ import annotations

from typing import Literal

from gateway.access.options import AccessOptions
from gateway.access.users import Seed
from gateway.alerts import Rule, Selector
from gateway.alerts.webhook import WebhookOptions
from gateway.ble.ingest import IngestOptions
from gateway.ble.scanner import ScannerOptions
from gateway.bridge.bridge import BridgeOptions
from gateway.bridge.mqtt import MqttOptions
from gateway.bridge.telemetry import TelemetryOptions
from gateway.commands.inbox import InboxOptions
from gateway.commands.jws import public_key_from_pem, public_key_from_x
from gateway.config.broker import broker_limits, client_id
from gateway.config.model import AlertRuleConfig, GatewayConfig
from gateway.daemon.app import GatewaySettings
from gateway.energy.counters import Counter
from gateway.energy.modbus import RegisterMap
from gateway.energy.model import WEEKDAYS, Calendar, HvacZone, LightZone, Zones
from gateway.energy.service import EnergySettings, ZoneLink
from gateway.labels.jobs import SchedulerOptions
from gateway.labels.pipeline import LabelOptions
from gateway.ownership import OwnershipOptions
from gateway.prices.rules import PriceRules
from gateway.registry import RegistryOptions
from gateway.registry.history import HistoryOptions
from gateway.web.server import WebOptions
from gateway.web.tls import TlsOptions

REDACTED = "<redacted>"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def price_rules(config: GatewayConfig) -> PriceRules:
    """The configuration's price rules (a price-rules command replaces them)."""
    p = config.prices
    return PriceRules.parse(p.rules.given(), p.currency)


def alert_rules(config: GatewayConfig) -> tuple[Rule, ...]:
    b = config.alerts.builtin
    rules: list[Rule] = []
    if b.device_offline:
        rules.append(
            Rule(
                name="device-offline",
                metric="offline",
                op="above",
                threshold=0.5,
                severity="warning",
                message="{name} is offline",
                selector=Selector(kinds=frozenset({"beacon", "sensor", "label"})),
            )
        )
    if b.low_battery_pct is not None:
        rules.append(
            Rule(
                name="low-battery",
                metric="battery_pct",
                op="below",
                threshold=b.low_battery_pct,
                clear=min(100.0, b.low_battery_pct + 5),
                severity="warning",
                message="{name}: battery {value}% below {threshold}%",
            )
        )
    if b.label_failing:
        rules.append(
            Rule(
                name="label-update-failing",
                metric="label_failed",
                op="above",
                threshold=0.5,
                severity="warning",
                message="{name}: the label will not update",
                selector=Selector(kinds=frozenset({"label"})),
            )
        )
    if b.buffer_share is not None:
        rules.append(
            Rule(
                name="buffer-filling",
                metric="buffer_share",
                op="above",
                threshold=b.buffer_share,
                clear=max(0.0, b.buffer_share - 0.1),
                severity="critical",
                message="buffer {value} of its cap used",
                selector=Selector(gateway=True),
            )
        )
    if b.broker_down_for is not None:
        rules.append(
            Rule(
                name="broker-unreachable",
                metric="broker_down_s",
                op="above",
                threshold=b.broker_down_for,
                clear=0.5,
                severity="critical",
                message="cloud broker unreachable for {value} s",
                selector=Selector(gateway=True),
            )
        )
    if b.adapter_down_for is not None:
        rules.append(
            Rule(
                name="ble-adapter-down",
                metric="adapters_down",
                op="above",
                threshold=0.5,
                for_s=b.adapter_down_for,
                severity="critical",
                message="{value} Bluetooth adapter(s) down",
                selector=Selector(gateway=True),
            )
        )
    if b.failed_sign_ins is not None:
        rules.append(
            Rule(
                name="failed-sign-ins",
                metric="failed_sign_ins_10m",
                op="above",
                threshold=b.failed_sign_ins - 0.5,
                severity="warning",
                message="{value} failed sign-ins to the page in 10 minutes",
                selector=Selector(gateway=True),
            )
        )
    if b.price_held:
        rules.append(
            Rule(
                name="price-held",
                metric="prices_held_overdue",
                op="above",
                threshold=0.5,
                severity="warning",
                message="{value} price(s) held for review longer than "
                + _minutes(config.prices.held_alert_after),
                selector=Selector(gateway=True),
            )
        )
    if config.energy.hvac or config.energy.lights:
        rules.append(
            Rule(
                name="energy-controller-unreachable",
                metric="energy_zones_unreachable",
                op="above",
                threshold=0.5,
                for_s=b.energy_controller_down_for,
                severity="critical",
                message="{value} energy zone(s) without an answer from their controller",
                selector=Selector(gateway=True),
            )
        )
        rules.append(
            Rule(
                name="energy-write-not-taking",
                metric="energy_writes_not_taking",
                op="above",
                threshold=0.5,
                severity="warning",
                message="{value} energy zone(s) do not take what the gateway writes",
                selector=Selector(gateway=True),
            )
        )
    rules.append(
        Rule(
            name="database-replaced",
            metric="database_replaced",
            op="above",
            threshold=0.5,
            severity="critical",
            message="the gateway's database was damaged: moved aside, started with a fresh one",
            selector=Selector(gateway=True),
        )
    )
    rules.extend(_user_rule(r) for r in config.alerts.rules)
    return tuple(rules)


def _user_rule(r: AlertRuleConfig) -> Rule:
    above = r.above is not None
    threshold = r.above if r.above is not None else r.below
    assert threshold is not None  # the model guarantees exactly one
    op: Literal["above", "below"] = "above" if above else "below"
    return Rule(
        name=r.name,
        metric=r.metric,
        op=op,
        threshold=threshold,
        clear=r.clear,
        for_s=r.for_,
        keep_firing_for_s=r.keep_firing_for,
        severity=r.severity,
        message=r.message or f"{{rule}}: {{metric}} {{value}} {op} {{threshold}} for {{for}}",
        selector=Selector(
            kinds=frozenset(r.devices.kinds),
            models=frozenset(r.devices.models),
            tags=frozenset(r.devices.tags),
            device_ids=frozenset(r.devices.ids),
        ),
    )


def redacted(config: GatewayConfig) -> dict[str, object]:
    data = config.model_dump(mode="json", by_alias=True)
    for user in data["web"]["users"]:
        user["password_hash"] = REDACTED
    data["ble"]["bthome_keys"] = {k: REDACTED for k in data["ble"]["bthome_keys"]}
    return data


def web_options(config: GatewayConfig) -> WebOptions:
    web, tls = config.web, config.web.tls
    return WebOptions(
        bind=web.bind,
        port=web.port,
        metrics_access=web.metrics_access,
        tls=TlsOptions(tls.cert, tls.key, tls.client_ca) if tls.enabled else None,
    )


def bridge_options(config: GatewayConfig) -> BridgeOptions | None:
    m = config.mqtt
    if not m.enabled:
        return None
    t = config.telemetry
    limits = broker_limits(config)
    return BridgeOptions(
        mqtt=MqttOptions(
            host=m.host,
            port=m.port,
            client_id=client_id(config),
            protocol=limits.protocol,
            keepalive_s=limits.keepalive_s,
            session_expiry_s=limits.session_expiry_s,
            username=m.username,
            password_file=m.password_file,
            tls=m.tls.enabled,
            ca_file=m.tls.ca_file,
            cert_file=m.tls.cert_file,
            key_file=m.tls.key_file,
            verify_hostname=m.tls.verify_hostname,
            inflight=limits.inflight,
            publish_rate=limits.publish_rate,
            max_message_bytes=limits.max_message_bytes,
            reconnect_min_s=m.reconnect_min,
            reconnect_max_s=m.reconnect_max,
        ),
        topic_prefix=m.topic_prefix,
        status_heartbeat_s=config.device_state.status_heartbeat,
        state_min_interval_s=config.device_state.min_interval,
        state_heartbeat_s=config.device_state.heartbeat,
        max_bytes=config.buffer.max_bytes,
        ttl=config.buffer.ttl.model_dump() | {"state": config.buffer.ttl.device_state},
        telemetry=TelemetryOptions(
            sample_interval_s=t.sample_interval,
            max_readings=t.batch_max_readings,
            max_bytes=t.batch_max_bytes,
            max_delay_s=t.batch_max_delay,
        ),
    )


def inbox_options(config: GatewayConfig) -> InboxOptions:
    keys = {}
    for k in config.security.trusted_keys:
        keys[k.kid] = public_key_from_x(k.x) if k.x is not None else public_key_from_pem(k.pem_file)  # type: ignore[arg-type]
    return InboxOptions(
        store_id=config.store_id,
        gateway_id=config.gateway_id,
        trusted_keys=keys,
        allow_unsigned=config.security.allow_unsigned_commands,
        max_bytes=config.security.max_command_bytes,
    )


def settings_from_config(config: GatewayConfig) -> GatewaySettings:
    ble = config.ble
    web = config.web
    return GatewaySettings(
        store_id=config.store_id,
        gateway_id=config.gateway_id,
        data_dir=config.data_dir,
        adapters="auto" if ble.adapters == "auto" else tuple(ble.adapters),
        scanner=ScannerOptions(
            mode=ble.scan_mode,
            silence_timeout_s=ble.silence_timeout,
            backoff_min_s=ble.restart_backoff_min,
            backoff_max_s=ble.restart_backoff_max,
        ),
        ingest=IngestOptions(
            bthome_keys={k: bytes.fromhex(v) for k, v in ble.bthome_keys.items()},
            accept_unknown=ble.accept_unknown,
            allow=frozenset(ble.allow),
            deny=frozenset(ble.deny),
            min_rssi=ble.min_rssi,
        ),
        history=None
        if config.registry.history_days == 0
        else HistoryOptions(
            keep_s=config.registry.history_days * 86400,
            max_rows=config.registry.history_max_rows,
        ),
        registry=RegistryOptions(
            offline_factor=config.registry.offline_factor,
            offline_floor_s=config.registry.offline_floor,
            offline_ceiling_s=config.registry.offline_ceiling,
            default_deadband=config.registry.default_deadband,
            deadbands=dict(config.registry.deadbands),
            tags={k: tuple(v) for k, v in config.registry.tags.items()},
        ),
        alert_rules=alert_rules(config),
        synchronous=config.buffer.synchronous,
        web=web_options(config) if web.enabled else None,
        access=AccessOptions(
            seeds=tuple(Seed(u.name, u.role, u.password_hash) for u in web.users),
            second_factor_roles=frozenset(web.second_factor_roles),
            session_lifetime_s=web.session_lifetime,
            session_idle_s=web.session_idle,
            secure_cookies=web.secure_cookies,
            user_limit=web.login_max_failures,
            address_limit=web.login_address_max_failures,
            window_s=web.login_window,
            audit_keep_s=web.audit_keep,
        ),
        bridge=bridge_options(config),
        labels=LabelOptions(
            slots_per_adapter=config.labels.slots_per_adapter,
            scheduler=SchedulerOptions(
                max_attempts=config.labels.max_attempts,
                budget_s=config.labels.budget,
                backoff_min_s=config.labels.backoff_min,
                backoff_max_s=config.labels.backoff_max,
                defer_s=config.labels.defer,
            ),
            not_seen_after_s=config.labels.not_seen_after,
            default_template=config.labels.default_template,
            font_path=None if config.labels.font_path is None else str(config.labels.font_path),
            notify_settle_s=config.labels.notify_settle,
            confirm_timeout_s=config.labels.confirm_timeout,
            compress=config.labels.compress,
            unverified_layouts=frozenset(config.labels.unverified_layouts),
            price_rules=price_rules(config),
            held_alert_after_s=config.prices.held_alert_after,
        ),
        inbox=inbox_options(config),
        ownership=OwnershipOptions(
            margin_db=config.multi_gateway.margin_db,
            hold_s=config.multi_gateway.hold,
            label_min_rssi=config.multi_gateway.label_min_rssi,
            offline_grace_s=config.multi_gateway.offline_grace,
            balance_labels=config.multi_gateway.balance_labels,
            # The broker publishes a lost client's Will after 1.5 keepalives.
            will_after_s=1.5 * config.mqtt.keepalive,
        )
        if config.multi_gateway.enabled
        else None,
        webhook=None
        if config.alerts.webhook is None
        else WebhookOptions(
            url=config.alerts.webhook.url,
            timeout_s=config.alerts.webhook.timeout,
            retries=config.alerts.webhook.retries,
        ),
        ble_counters={c.device_id: c.reading for c in config.energy.ble_counters},
        counters={
            c.id: Counter(c.id, c.token_sha256, c.format, c.device_id)
            for c in config.energy.counters
        },
        energy=energy_settings(config),
        redacted_config=redacted(config),
    )


def energy_settings(config: GatewayConfig) -> EnergySettings | None:
    """The energy loop's settings (None: the store has no zones configured)."""
    e = config.energy
    if not e.hvac and not e.lights:
        return None
    hours: dict[int, tuple[str, str] | None] = {}
    for name, text in e.hours.items():
        open_, _, close = text.partition("-")
        hours[WEEKDAYS.index(name)] = (open_.strip(), close.strip())
    calendar = Calendar.weekly(hours, closed=e.closed, timezone=e.timezone)
    controllers = {c.id: c for c in e.controllers}
    zones = Zones(
        hvac=[
            HvacZone(
                z.name,
                band=z.band,
                setback=z.setback,
                limits=z.limits,
                max_step=z.max_step,
                min_on_s=z.min_on,
                min_off_s=z.min_off,
                heat_rate=z.heat_rate,
                cool_rate=z.cool_rate,
                preheat_margin_s=z.preheat_margin,
            )
            for z in e.hvac
        ],
        lights=[
            LightZone(
                z.name,
                floor=z.floor,
                full=z.full,
                busy=z.busy,
                min_on_s=z.min_on,
                min_off_s=z.min_off,
                staff_minutes=z.staff_minutes,
            )
            for z in e.lights
        ],
    )
    links = {
        z.name: ZoneLink(
            controllers[z.controller].host,
            controllers[z.controller].port,
            controllers[z.controller].timeout,
            RegisterMap(
                unit=z.unit,
                on=z.registers.on,
                setpoint=z.registers.setpoint,
                level=z.registers.level,
                temperature=z.registers.temperature,
                energy=z.registers.energy,
                scale=z.registers.scale,
            ),
        )
        for z in [*e.hvac, *e.lights]
    }
    ids = {z.name: z.device_id for z in [*e.hvac, *e.lights] if z.device_id is not None}
    return EnergySettings(calendar, zones, links, e.outside_sensor, e.step, ids)
