"""Label content rendered with Pillow, packed for the panel, hashed, previewed.

Deterministic: the same content gives the same bytes on every machine — one
font file (Debian's ``fonts-wqy-microhei``, Apache-2.0 / GPLv3 with font
exception, CJK included), fixed sizes, a fixed luminance threshold, no
dithering. The packing follows the public Gicisky projects
(github.com/eigger/hass-gicisky, gicisky_ble/writer.py): the image is turned by
the panel's rotation, optionally mirrored, then written row by row as a 1-bit
plane (1 = white) followed, on black/white/red panels, by a red plane (1 = red).
The content hash is the SHA-256 of the packed bytes (first 16 hex digits).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFont

from drivers.labels.models import PanelModel

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
)
THRESHOLD = 128
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


def render(
    content: LabelContent, panel: PanelModel, font_path: Path | None = None
) -> RenderedLabel:
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
    packed = pack(img, panel)
    preview = io.BytesIO()
    img.save(preview, format="PNG", optimize=False)
    return RenderedLabel(packed, hashlib.sha256(packed).hexdigest()[:16], preview.getvalue())


def pack(img: Image.Image, panel: PanelModel) -> bytes:
    """Planes for the panel: rotation, mirroring, 1-bit white plane, red plane.

    Pixels go row by row into one continuous bit stream, most significant bit
    first. White plane: 1 where the luminance (Rec. 709 weights, rounded) is
    above ``THRESHOLD``; red plane: 1 where red is above and green below it.
    Done with Pillow's C operations: a per-pixel Python loop costs ~15 ms per
    label, which a campaign of thousands of labels cannot afford.
    """
    img = img.convert("RGB")
    if panel.rotation:
        img = img.rotate(panel.rotation, expand=True)
    if panel.mirror_x:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if panel.mirror_y:
        img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    luminance = img.convert("L", (0.2126, 0.7152, 0.0722, 0.0))
    white = _bits(luminance.point(_ABOVE).tobytes())
    if "red" not in panel.colors:
        return white
    r, g, _ = img.split()
    red = ImageChops.darker(r.point(_ABOVE), g.point(_BELOW))  # both 1 -> 1
    return white + _bits(red.tobytes())


_ABOVE = [0] * (THRESHOLD + 1) + [1] * (255 - THRESHOLD)  # value > THRESHOLD -> 1
_BELOW = [1] * THRESHOLD + [0] * (256 - THRESHOLD)  # value < THRESHOLD -> 1
_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def _bits(mask: bytes) -> bytes:
    """One byte of 0/1 per pixel -> packed bits, MSB first, the last byte padded with 0."""
    padded = mask + b"\x00" * (-len(mask) % 8)
    return int(padded.translate(_DIGITS), 2).to_bytes(len(padded) // 8, "big")
