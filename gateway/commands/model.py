"""Typed commands (after the contract's JSON Schema accepted them).

A command is parsed once, into one member of the :data:`Command` union, chosen by
its ``type``; its body is checked with it. :data:`TYPES` is the one list of the
command types this gateway executes.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from gateway.timeutil import parse_ts


def _real_time(text: str) -> str:
    parse_ts(text)  # the pattern alone lets through month 22 or 30 February
    return text


Timestamp = Annotated[str, AfterValidator(_real_time)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PriceItemModel(_Model):
    sku: str
    version: int
    price: str  # a decimal string; never a float
    currency: str
    original_price: str | None = None
    promo_text: str | None = None
    unit_price_text: str | None = None
    name: str | None = None
    valid_from: Timestamp | None = None


class PriceUpdateBody(_Model):
    items: list[PriceItemModel]


class BindingModel(_Model):
    label_id: str
    sku: str
    template: str | None = None


class LabelBindBody(_Model):
    bindings: list[BindingModel]


class LabelUnbindBody(_Model):
    label_ids: list[str]


class LabelFlashBody(_Model):
    label_ids: list[str]
    color: Literal["red", "green", "blue", "white", "yellow"] = "green"
    duration_s: int = Field(10, ge=1, le=600)


class ResyncBody(_Model):
    pass


class ZoneSettingsModel(_Model):
    """What the cloud may change of a zone (an air-conditioning zone's band, set-back
    and limits; a lighting zone's levels); absent: as configured."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    band: tuple[float, float] | None = None
    setback: tuple[float, float] | None = None
    limits: tuple[float, float] | None = None
    floor: int | None = Field(None, ge=1, le=100)
    full: int | None = Field(None, ge=1, le=100)
    busy: float | None = Field(None, ge=0)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
OpeningHours = Annotated[str, Field(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")]


class EnergySettingsBody(_Model):
    """The store's energy settings from the cloud: ``version`` strictly increasing (an
    older one changes nothing); ``hours`` replaces the week's opening hours (a weekday
    absent or null: closed), ``closed`` the closed dates; ``zones`` changes the named
    zones' bounds. What is absent stays as it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    hours: dict[Weekday, OpeningHours | None] | None = Field(None, min_length=1)
    closed: list[date] | None = Field(None, max_length=400)
    zones: dict[str, ZoneSettingsModel] | None = Field(None, max_length=64)


RuleMode = Literal["off", "warn", "hold"]


class RuleModel(_Model):
    """One price rule's mode and limit (the contract's schema checked the keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: RuleMode
    pct: float | None = Field(None, gt=0, le=1000)
    days: int | None = Field(None, ge=1, le=366)
    per_day: int | None = Field(None, ge=1, le=1000)


class PriceRulesBody(_Model):
    """The store's price rules, replacing the gateway's whole: a rule not named takes its
    default; ``currency`` (absent: unchanged) is the store's currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    rules: dict[str, RuleModel] = Field(min_length=1)


class ReviewModel(_Model):
    sku: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    decision: Literal["release", "discard"]
    note: str | None = Field(None, max_length=200)


class PriceReviewBody(_Model):
    reviews: list[ReviewModel] = Field(min_length=1, max_length=500)


class _Envelope(_Model):
    schema_: str = Field(alias="schema")
    id: str
    store_id: str
    gateway_id: str | None = None
    issued_at: Timestamp
    expires_at: Timestamp


class PriceUpdate(_Envelope):
    type: Literal["price-update"]
    body: PriceUpdateBody


class LabelBind(_Envelope):
    type: Literal["label-bind"]
    body: LabelBindBody


class LabelUnbind(_Envelope):
    type: Literal["label-unbind"]
    body: LabelUnbindBody


class LabelFlash(_Envelope):
    type: Literal["label-flash"]
    body: LabelFlashBody


class Resync(_Envelope):
    type: Literal["resync"]
    body: ResyncBody


class EnergySettingsUpdate(_Envelope):
    type: Literal["energy-settings"]
    body: EnergySettingsBody


class PriceRulesUpdate(_Envelope):
    type: Literal["price-rules"]
    body: PriceRulesBody


class PriceReview(_Envelope):
    type: Literal["price-review"]
    body: PriceReviewBody


Command = Annotated[
    PriceUpdate
    | LabelBind
    | LabelUnbind
    | LabelFlash
    | Resync
    | EnergySettingsUpdate
    | PriceRulesUpdate
    | PriceReview,
    Field(discriminator="type"),
]
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
LabelCommand = PriceUpdate | LabelBind | LabelUnbind | LabelFlash | PriceRulesUpdate | PriceReview

TYPES: dict[str, type[_Envelope]] = {
    "price-update": PriceUpdate,
    "label-bind": LabelBind,
    "label-unbind": LabelUnbind,
    "label-flash": LabelFlash,
    "resync": Resync,
    "energy-settings": EnergySettingsUpdate,
    "price-rules": PriceRulesUpdate,
    "price-review": PriceReview,
}
