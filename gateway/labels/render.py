"""Label content rendered with Pillow, packed for the panel, hashed, previewed.

Deterministic: the same content gives the same bytes on every machine — one
font file (Debian's ``fonts-wqy-microhei``, Apache-2.0 / GPLv3 with font
exception, CJK included), fixed sizes, a stated colour rule, no dithering. The
picture is packed for the panel by :mod:`gateway.labels.packing`; the content
hash is the SHA-256 of the packed bytes (first 16 hex digits). The preview is
the picture in the colours the panel shows.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from drivers.labels.panels import Panel
from gateway.labels.packing import classify, pack, preview_colours

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
WHITE, BLACK, RED = (255, 255, 255), (0, 0, 0), (220, 0, 0)
SYMBOLS = {"CNY": "¥", "EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


class FontMissing(RuntimeError):
    """No usable font: install the Debian package fonts-wqy-microhei or set labels.font_path."""


@dataclass(frozen=True, slots=True)
class LabelContent:
    sku: str
    price: str
    currency: str
    name: str | None = None
    original_price: str | None = None
    promo_text: str | None = None
    unit_price_text: str | None = None
    template: str = "price"  # price | promo | unit-price


@dataclass(frozen=True, slots=True)
class RenderedLabel:
    packed: bytes
    content_hash: str
    preview_png: bytes


def find_font(path: Path | None = None) -> Path:
    for candidate in (path,) if path else FONT_CANDIDATES:
        if candidate is not None and candidate.is_file():
            return candidate
    raise FontMissing(
        "no CJK font found; install the Debian package fonts-wqy-microhei or set labels.font_path"
    )


@cache
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def money(amount: str, currency: str) -> str:
    try:
        Decimal(amount)
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not a decimal amount") from exc
    return f"{SYMBOLS.get(currency, currency + ' ')}{amount}"


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font_path: str, size: int, width: int
) -> tuple[str, ImageFont.FreeTypeFont]:
    """Shrink to fit, then ellipsize: never overflow."""
    for s in range(size, 9, -2):
        font = _font(font_path, s)
        if draw.textlength(text, font=font) <= width:
            return text, font
    font = _font(font_path, 10)
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…", font


def render(content: LabelContent, panel: Panel, font_path: Path | None = None) -> RenderedLabel:
    img = draw(content, panel, font_path)
    packed = pack(img, panel)
    preview = io.BytesIO()
    preview_colours(classify(img, panel.colors)).save(preview, format="PNG", optimize=False)
    return RenderedLabel(packed, hashlib.sha256(packed).hexdigest()[:16], preview.getvalue())


def draw(content: LabelContent, panel: Panel, font_path: Path | None = None) -> Image.Image:
    """The label's picture, upright, at the panel's size, in RGB."""
    fp = str(find_font(font_path))
    w, h = panel.width, panel.height
    red = "red" in panel.colors
    img = Image.new("RGB", (w, h), WHITE)
    d = ImageDraw.Draw(img)
    pad = max(4, w // 50)
    name = content.name or content.sku
    text, font = _fit(d, name, fp, max(12, h // 6), w - 2 * pad)
    d.text((pad, pad), text, fill=BLACK, font=font)
    price = money(content.price, content.currency)
    big = max(20, h // 2)
    ptext, pfont = _fit(d, price, fp, big, w - 2 * pad)
    price_color = RED if red and content.template == "promo" else BLACK
    top = pad + max(12, h // 6) + pad
    d.text((pad, top), ptext, fill=price_color, font=pfont)
    small = max(10, h // 9)
    y = h - pad - small
    if content.template == "promo" and content.original_price:
        old = money(content.original_price, content.currency)
        otext, ofont = _fit(d, old, fp, small, w // 2 - pad)
        d.text((pad, y), otext, fill=BLACK, font=ofont)
        length = d.textlength(otext, font=ofont)
        d.line((pad, y + small // 2 + 1, pad + length, y + small // 2 + 1), fill=BLACK, width=2)
        if content.promo_text:
            ttext, tfont = _fit(d, content.promo_text, fp, small, w // 2 - pad)
            d.text((w // 2, y), ttext, fill=RED if red else BLACK, font=tfont)
    elif content.unit_price_text and content.template in ("unit-price", "price"):
        utext, ufont = _fit(d, content.unit_price_text, fp, small, w - 2 * pad)
        d.text((pad, y), utext, fill=BLACK, font=ufont)
    return img
