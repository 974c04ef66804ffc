"""Typed commands (after the contract's JSON Schema accepted them).

A command is parsed once, into one member of the :data:`Command` union, chosen by
its ``type``; its body is checked with it. :data:`TYPES` is the one list of the
command types this gateway executes.
"""

from __future__ import annotations

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


Command = Annotated[
    PriceUpdate | LabelBind | LabelUnbind | LabelFlash | Resync, Field(discriminator="type")
]
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)
LabelCommand = PriceUpdate | LabelBind | LabelUnbind | LabelFlash

TYPES: dict[str, type[_Envelope]] = {
    "price-update": PriceUpdate,
    "label-bind": LabelBind,
    "label-unbind": LabelUnbind,
    "label-flash": LabelFlash,
    "resync": Resync,
}
