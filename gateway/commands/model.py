"""Typed commands (after the contract's JSON Schema accepted them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SUPPORTED = ("price-update", "label-bind", "label-unbind", "label-flash", "resync")


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
    valid_from: str | None = None


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
    issued_at: str
    expires_at: str
    body: dict[str, object]
