"""The gateway's configuration model. Every default lives here, and only here.

Unknown keys are errors everywhere (a typo must not silently fall back to a
default). Durations accept seconds or text such as "90s", "5m", "1h".
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.config.durations import Duration
from gateway.energy.model import WEEKDAYS

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DEVICE_ID = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BleConfig(Section):
    adapters: Literal["auto"] | list[Annotated[str, Field(pattern=r"^hci[0-9]+$")]] = Field(
        "auto", description='adapter names like "hci0", or "auto" for every adapter BlueZ has'
    )
    scan_mode: Literal["auto", "passive", "active"] = "auto"
    accept_unknown: bool = Field(False, description="keep devices of no known format too")
    allow: list[DEVICE_ID] = Field(default_factory=list, description="only these device ids")
    deny: list[DEVICE_ID] = Field(default_factory=list, description="never these device ids")
    min_rssi: int | None = Field(None, ge=-127, le=20)
    silence_timeout: Duration = Field(60.0, gt=0)
    restart_backoff_min: Duration = Field(1.0, gt=0)
    restart_backoff_max: Duration = Field(60.0, gt=0)
    bthome_keys: dict[str, str] = Field(
        default_factory=dict, description="device id -> BTHome bind key (32 hex digits)"
    )

    @field_validator("bthome_keys")
    @classmethod
    def _keys(cls, keys: dict[str, str]) -> dict[str, str]:
        for device_id, key in keys.items():
            if not re.fullmatch(r"[0-9a-f]{12}", device_id):
                raise ValueError(f"{device_id!r} is not a device id (12 lowercase hex digits)")
            if not _HEX32.match(key):
                raise ValueError(f"the bind key of {device_id} must be 32 hex digits")
        return keys


class RegistryConfig(Section):
    offline_factor: float = Field(5.0, gt=1, description="missed intervals before offline")
    offline_floor: Duration = Field(30.0, gt=0)
    offline_ceiling: Duration = Field(900.0, gt=0)
    default_deadband: float = Field(0.0, ge=0)
    deadbands: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"temperature_c": 0.1, "humidity_pct": 1.0, "pressure_hpa": 0.5}
    )
    tags: dict[str, list[str]] = Field(
        default_factory=dict, description="device id -> tags, e.g. fridge"
    )
    history_days: float = Field(
        7.0, ge=0, le=31, description="sensor readings kept for the page's charts (0: none)"
    )
    history_max_rows: int = Field(
        500_000, ge=1000, description="bound on the readings kept (5-minute buckets)"
    )

    @model_validator(mode="after")
    def _check(self) -> RegistryConfig:
        if self.offline_floor > self.offline_ceiling:
            raise ValueError("offline_floor must not be above offline_ceiling")
        for device_id in self.tags:
            if not re.fullmatch(r"[0-9a-f]{12}", device_id):
                raise ValueError(f"tags: {device_id!r} is not a device id (12 lowercase hex)")
        return self


class TlsConfig(Section):
    enabled: bool = False
    ca_file: Path | None = Field(None, description="CA bundle; the system's when unset")
    cert_file: Path | None = Field(None, description="client certificate (mutual TLS)")
    key_file: Path | None = None
    verify_hostname: bool = True

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (mutual TLS)")
        return self


class MqttConfig(Section):
    enabled: bool = True
    profile: Literal[
        "mosquitto", "aws-iot-core", "azure-event-grid", "hivemq-cloud", "emqx", "rabbitmq"
    ] = Field("mosquitto", description="the broker's limits by name (README: Broker profiles)")
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = Field(None, description="default: storegw-<store>-<gateway>")
    topic_prefix: str = "retail/v1"
    protocol: Literal["5", "3.1.1"] = "5"
    keepalive: Duration = Field(30.0, ge=5, le=3600)
    session_expiry: Duration = Field(86400.0, ge=0)
    username: str | None = None
    password_file: Path | None = None
    inflight: int = Field(100, ge=1, le=65535)
    publish_rate: float | None = Field(
        None, gt=0, le=100000, description="publishes a second at most (default: the profile's)"
    )
    max_message_bytes: int | None = Field(
        None, ge=1024, le=256 * 1024 * 1024, description="default: the profile's"
    )
    reconnect_min: Duration = Field(1.0, gt=0)
    reconnect_max: Duration = Field(300.0, gt=0)
    tls: TlsConfig = Field(default_factory=TlsConfig)


class BufferTtl(Section):
    telemetry: Duration = 7 * 86400.0
    events: Duration = 30 * 86400.0
    acks: Duration = 30 * 86400.0
    device_state: Duration = 86400.0


class BufferConfig(Section):
    max_bytes: int = Field(256 * 1024 * 1024, ge=1024 * 1024)
    warn_share: float = Field(0.8, gt=0, lt=1)
    synchronous: Literal["normal", "full"] = "full"
    ttl: BufferTtl = Field(default_factory=BufferTtl)


class TelemetryConfig(Section):
    sample_interval: Duration = Field(60.0, gt=0)
    batch_max_readings: int = Field(500, ge=1)
    batch_max_bytes: int = Field(65536, ge=1024, le=128 * 1024)
    batch_max_delay: Duration = Field(10.0, gt=0)


class DeviceStateConfig(Section):
    min_interval: Duration = Field(5.0, ge=0)
    heartbeat: Duration = Field(900.0, gt=0, le=900)
    status_heartbeat: Duration = Field(60.0, gt=0, le=60)


class TrustedKey(Section):
    kid: str = Field(min_length=1)
    x: str | None = Field(None, description="Ed25519 public key, JWK 'x' (base64url)")
    pem_file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> TrustedKey:
        if (self.x is None) == (self.pem_file is None):
            raise ValueError("give exactly one of x (base64url) or pem_file")
        return self


class SecurityConfig(Section):
    trusted_keys: list[TrustedKey] = Field(default_factory=list)
    allow_unsigned_commands: bool = False
    max_command_bytes: int = Field(256 * 1024, ge=1024)


class LabelsConfig(Section):
    slots_per_adapter: int = Field(3, ge=1, le=10)
    max_attempts: int = Field(8, ge=1)
    budget: Duration = Field(1800.0, gt=0)
    backoff_min: Duration = Field(5.0, gt=0)
    backoff_max: Duration = Field(300.0, gt=0)
    defer: Duration = Field(600.0, gt=0)
    not_seen_after: Duration = Field(600.0, gt=0)
    default_template: str = "price"
    font_path: Path | None = None
    notify_settle: Duration = Field(1.0, ge=0, le=10)
    confirm_timeout: Duration = Field(30.0, gt=0, le=300)
    compress: bool = True
    unverified_layouts: list[int] = Field(
        default_factory=list,
        description="Gicisky ids written with a sibling's unverified layout (e.g. 0x0008)",
    )

    @field_validator("unverified_layouts")
    @classmethod
    def _only_unverified_ids(cls, ids: list[int]) -> list[int]:
        from drivers.labels.panels import check_unverified

        check_unverified(ids)
        return ids


class PriceRuleConfig(Section):
    """One price rule: its mode and, for the rules that have one, its limit."""

    mode: Literal["off", "warn", "hold"]
    pct: float | None = Field(None, gt=0, le=1000, description="max-drop, max-rise")
    days: int | None = Field(None, ge=1, le=366, description="prior-price")
    per_day: int | None = Field(None, ge=1, le=1000, description="change-rate")


class PriceRulesConfig(Section):
    """The seven rules of the price guard by name; a rule not named keeps its default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    non_positive: PriceRuleConfig | None = Field(None, alias="non-positive")
    currency: PriceRuleConfig | None = None
    max_drop: PriceRuleConfig | None = Field(None, alias="max-drop")
    max_rise: PriceRuleConfig | None = Field(None, alias="max-rise")
    promo_not_lower: PriceRuleConfig | None = Field(None, alias="promo-not-lower")
    prior_price: PriceRuleConfig | None = Field(None, alias="prior-price")
    change_rate: PriceRuleConfig | None = Field(None, alias="change-rate")

    def given(self) -> dict[str, dict[str, object]]:
        """The rules named, by their names, with what was set of each."""
        fields = type(self).model_fields
        return {
            (fields[f].alias or f): rule.model_dump(exclude_none=True)
            for f in fields
            if (rule := getattr(self, f)) is not None
        }

    @model_validator(mode="after")
    def _limits_fit_their_rules(self) -> PriceRulesConfig:
        from gateway.prices.rules import BadRules, PriceRules

        try:
            PriceRules.parse(self.given(), None)
        except BadRules as exc:
            raise ValueError(str(exc)) from None
        return self


class PricesConfig(Section):
    """The price guard (contract 1.2): the store's rules for every price item."""

    currency: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="the store's currency (ISO 4217); the currency rule applies only with one",
    )
    held_alert_after: Duration = Field(
        900.0, gt=0, description="a price held longer than this raises the price-held alert"
    )
    rules: PriceRulesConfig = Field(default_factory=PriceRulesConfig)


class MultiGatewayConfig(Section):
    """Several gateways in one store (contract 1.1). Off: this gateway owns every device."""

    enabled: bool = Field(False, description="this store has several gateways sharing its devices")
    margin_db: float = Field(
        8.0, ge=1, le=40, description="how much better another gateway must hear a device"
    )
    hold: Duration = Field(
        60.0, ge=5, le=3600, description="for how long, before it takes the device over"
    )
    label_min_rssi: float = Field(
        -92.0,
        ge=-127,
        le=0,
        description="a label heard weaker, while another gateway hears it above, is left to it",
    )
    offline_grace: Duration = Field(
        15.0, ge=0, le=25, description="a gateway offline this long: its devices are taken over"
    )
    balance_labels: bool = Field(
        True,
        description="labels heard about equally by two gateways are shared out evenly "
        "(off: each stays with the gateway that hears it best)",
    )


class CounterConfig(Section):
    """A door's people counter reporting to ``POST /api/footfall/{id}``."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    token_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 (hex) of the counter's token: store-gateway counter-token prints both",
    )
    format: Literal["generic", "vivotek"] = "generic"
    device_id: DEVICE_ID = Field(description="the 12-hex id its telemetry carries (its MAC)")


class BleCounterConfig(Section):
    """A people counter heard over BLE: a BTHome count that goes up by one per person
    entering."""

    device_id: DEVICE_ID
    reading: str = Field("count", description="the reading that counts (BTHome: count)")


class ControllerConfig(Section):
    """A building controller on Modbus TCP (its zones are unit ids on it)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    timeout: Duration = Field(2.0, gt=0, le=30)


class RegistersConfig(Section):
    """Holding register addresses of one zone (none: the zone has no such register)."""

    on: int = Field(0, ge=0, le=65535)
    setpoint: int | None = Field(1, ge=0, le=65535)
    level: int | None = Field(2, ge=0, le=65535)
    temperature: int | None = Field(3, ge=0, le=65535)
    energy: int | None = Field(4, ge=0, le=65534, description="two registers, high word first")
    scale: int = Field(10, ge=1, le=1000, description="setpoint/temperature/energy units per 1")


class ZoneConfig(Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    controller: str
    unit: int = Field(1, ge=0, le=247)
    registers: RegistersConfig = Field(default_factory=RegistersConfig)
    device_id: DEVICE_ID | None = Field(
        None, description="12 hex: the zone's readings go to the cloud as this device's telemetry"
    )


class HvacZoneConfig(ZoneConfig):
    band: tuple[float, float] = (20.0, 23.0)
    setback: tuple[float, float] = (14.0, 30.0)
    limits: tuple[float, float] = (12.0, 28.0)
    max_step: float = Field(2.0, gt=0, le=10)
    min_on: Duration = Field(600.0, ge=0)
    min_off: Duration = Field(600.0, ge=0)
    heat_rate: float = Field(1.5, gt=0, le=20, description="°C/h on a cold morning, at first")
    cool_rate: float = Field(1.5, gt=0, le=20)
    preheat_margin: Duration = Field(1800.0, ge=0)


class LightZoneConfig(ZoneConfig):
    floor: int = Field(40, ge=1, le=100, description="% while open, never lower")
    full: int = Field(100, ge=1, le=100)
    busy: float = Field(0.0, ge=0, description="people per 15 min at full (0: the day's peak)")
    min_on: Duration = Field(300.0, ge=0)
    min_off: Duration = Field(300.0, ge=0)
    staff_minutes: int = Field(30, ge=0, le=240)


class EnergyConfig(Section):
    """Footfall in (people counters); lighting and air-conditioning zones planned from it."""

    counters: list[CounterConfig] = Field(default_factory=list)
    ble_counters: list[BleCounterConfig] = Field(default_factory=list)
    timezone: str = Field("UTC", description="the store's local time zone (IANA name)")
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], str] = Field(
        default_factory=dict, description='opening hours per weekday, "08:00-20:00"; absent: closed'
    )
    closed: list[date] = Field(default_factory=list, description="public holidays")
    outside_sensor: DEVICE_ID | None = Field(
        None, description="a sensor outdoors (temperature_c): heating or cooling season"
    )
    step: Duration = Field(60.0, ge=10, le=900)
    controllers: list[ControllerConfig] = Field(default_factory=list)
    hvac: list[HvacZoneConfig] = Field(default_factory=list)
    lights: list[LightZoneConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> EnergyConfig:
        ids = [c.id for c in self.counters]
        if len(set(ids)) != len(ids):
            raise ValueError(f"energy.counters: ids must be unique, got {ids}")
        controllers = {c.id for c in self.controllers}
        names = [z.name for z in [*self.hvac, *self.lights]]
        if len(set(names)) != len(names):
            raise ValueError(f"energy zones: names must be unique, got {names}")
        for z in [*self.hvac, *self.lights]:
            if z.controller not in controllers:
                raise ValueError(
                    f"energy zone {z.name}: controller {z.controller!r} is not among "
                    f"[[energy.controllers]] ({sorted(controllers)})"
                )
        if names and not self.hours:
            raise ValueError("energy zones need energy.hours (the store's opening hours)")
        for day, text in self.hours.items():
            if not re.fullmatch(r"\d{2}:\d{2}-\d{2}:\d{2}", text):
                raise ValueError(f'energy.hours.{day}: {text!r} is not "HH:MM-HH:MM"')
        # The same checks the energy loop makes when it starts (band within limits, the
        # time zone known, open before close): said here, at check-config time.
        from gateway.energy.model import Calendar, EnergyConfigError, HvacZone, LightZone

        try:
            Calendar.weekly(
                {WEEKDAYS.index(d): tuple(t.split("-")) for d, t in self.hours.items()},  # type: ignore[misc]
                timezone=self.timezone,
            )
            for h in self.hvac:
                HvacZone(h.name, band=h.band, setback=h.setback, limits=h.limits)
            for li in self.lights:
                LightZone(li.name, floor=li.floor, full=li.full)
        except EnergyConfigError as exc:
            raise ValueError(f"energy: {exc}") from exc
        return self


Severity = Literal["info", "warning", "critical"]


class DeviceSelector(Section):
    kinds: list[Literal["beacon", "sensor", "label", "unknown"]] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    ids: list[DEVICE_ID] = Field(default_factory=list)


class AlertRuleConfig(Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    metric: str = Field(min_length=1)
    above: float | None = None
    below: float | None = None
    clear: float | None = None
    for_: Duration = Field(0.0, alias="for")
    keep_firing_for: Duration = 0.0
    severity: Severity = "warning"
    message: str | None = None
    devices: DeviceSelector = Field(default_factory=DeviceSelector)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _threshold(self) -> AlertRuleConfig:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        if self.clear is not None:
            if self.above is not None and self.clear > self.above:
                raise ValueError(
                    f"clear ({self.clear}) must not be above the threshold ({self.above})"
                )
            if self.below is not None and self.clear < self.below:
                raise ValueError(
                    f"clear ({self.clear}) must not be below the threshold ({self.below})"
                )
        return self


class BuiltinAlerts(Section):
    device_offline: bool = True
    low_battery_pct: float | None = Field(15.0, ge=0, le=100)
    label_failing: bool = True
    buffer_share: float | None = Field(0.8, gt=0, lt=1)
    broker_down_for: Duration | None = 600.0
    adapter_down_for: Duration | None = 120.0
    energy_controller_down_for: Duration = 120.0  # a zone's controller not answering
    price_held: bool = True  # a price held for review longer than prices.held_alert_after
    failed_sign_ins: int | None = Field(10, ge=1)  # failed sign-ins in 10 minutes


class WebhookConfig(Section):
    url: str = Field(pattern=r"^https?://")
    timeout: Duration = 5.0
    retries: int = Field(5, ge=0)


class AlertsConfig(Section):
    builtin: BuiltinAlerts = Field(default_factory=BuiltinAlerts)
    rules: list[AlertRuleConfig] = Field(default_factory=list)
    webhook: WebhookConfig | None = None

    @model_validator(mode="after")
    def _unique(self) -> AlertsConfig:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"alert rule names must be unique; repeated: {', '.join(dupes)}")
        return self


class WebUserConfig(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    role: Literal["viewer", "technician", "admin"]
    password_hash: str = Field(description="from store-gateway hash-password")

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        from gateway.access.passwords import check_hash_format

        problem = check_hash_format(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class WebTlsConfig(Section):
    """HTTPS for the page and the API (on by default)."""

    enabled: bool = Field(True, description="false: plain HTTP, warned about at every start")
    cert: Path | None = Field(None, description="PEM certificate (chain); with key")
    key: Path | None = Field(None, description="PEM private key; with cert")
    client_ca: Path | None = Field(
        None, description="mutual TLS: only clients with a certificate from this CA (PEM)"
    )

    @model_validator(mode="after")
    def _pair(self) -> WebTlsConfig:
        if (self.cert is None) != (self.key is None):
            raise ValueError(
                "give both cert and key, or neither (then the gateway makes a self-signed "
                "certificate in its data directory)"
            )
        return self


Role = Literal["viewer", "technician", "admin"]


class WebConfig(Section):
    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = Field(8443, ge=0, le=65535)
    tls: WebTlsConfig = Field(default_factory=WebTlsConfig)
    session_lifetime: Duration = Field(8 * 3600.0, gt=0)
    session_idle: Duration = Field(30 * 60.0, gt=0, description="signed out after this idle")
    secure_cookies: bool = Field(
        False, description="Secure cookies over plain HTTP too (behind a TLS proxy)"
    )
    metrics_access: Literal["localhost", "authenticated"] = "localhost"
    second_factor_roles: list[Role] = Field(
        default_factory=lambda: ["admin"],  # type: ignore[arg-type]
        description="roles that must set up a second factor",
    )
    login_max_failures: int = Field(5, ge=1, description="per user, before they wait")
    login_address_max_failures: int = Field(20, ge=1, description="per address, any users")
    login_window: Duration = Field(
        600.0, gt=0, description="failures further apart than this start a new count"
    )
    audit_keep: Duration = Field(90 * 86400.0, gt=0)
    users: list[WebUserConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _limits(self) -> WebConfig:
        if self.login_address_max_failures < self.login_max_failures:
            raise ValueError(
                "login_address_max_failures must be at least login_max_failures (one "
                "user's failures must not lock out the others on the same address first)"
            )
        return self


LogLevel = Literal["debug", "info", "warning", "error", "critical"]
_QUIET_LIBRARIES: dict[str, LogLevel] = {"bleak": "warning", "aiohttp.access": "warning"}


class LoggingConfig(Section):
    level: LogLevel = "info"
    format: Literal["auto", "console", "json"] = "auto"
    journald: bool = Field(False, description="syslog priority prefixes, no own timestamps")
    levels: dict[str, LogLevel] = Field(default_factory=lambda: dict(_QUIET_LIBRARIES))


class GatewayConfig(Section):
    store_id: str = Field(pattern=ID_PATTERN)
    gateway_id: str = Field(pattern=ID_PATTERN)
    data_dir: Path
    ble: BleConfig = Field(default_factory=BleConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    buffer: BufferConfig = Field(default_factory=BufferConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    device_state: DeviceStateConfig = Field(default_factory=DeviceStateConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    prices: PricesConfig = Field(default_factory=PricesConfig)
    multi_gateway: MultiGatewayConfig = Field(default_factory=MultiGatewayConfig)
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _the_broker_can_carry_it(self) -> GatewayConfig:
        if not self.mqtt.enabled:
            return self
        from gateway.config.broker import broker_problems

        found = broker_problems(self)
        if found:
            raise ValueError("\n".join(found))  # one line each (gateway.config.load)
        return self

    @model_validator(mode="after")
    def _shared_store_needs_the_broker(self) -> GatewayConfig:
        if self.multi_gateway.enabled and not self.mqtt.enabled:
            raise ValueError(
                "multi_gateway.enabled needs mqtt.enabled: the gateways of a store agree "
                "through its broker (enable [mqtt] or disable [multi_gateway])"
            )
        return self
