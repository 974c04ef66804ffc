"""Typed commands (after the contract's JSON Schema accepted them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.timeutil import parse_ts

SUPPORTED = ("price-update", "label-bind", "label-unbind", "label-flash", "resync")


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


class Command(_Model):
    schema_: str = Field(alias="schema")
    id: str
    store_id: str
    gateway_id: str | None = None
    type: str
    issued_at: Timestamp
    expires_at: Timestamp
    body: dict[str, object]


BODIES: dict[str, type[BaseModel]] = {
    "price-update": PriceUpdateBody,
    "label-bind": LabelBindBody,
    "label-unbind": LabelUnbindBody,
    "label-flash": LabelFlashBody,
}
