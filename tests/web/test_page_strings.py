"""The page's words: every string in both languages, every key the page asks for known,
and no browser alert box anywhere in its code."""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "gateway" / "web" / "app" / "src"


def dictionaries() -> dict[str, set[str]]:
    text = (APP / "i18n.ts").read_text()
    out = {}
    for lang in ("en", "zh"):
        body = text.split(f"const {lang}: Dict = {{", 1)[1].split("\n};", 1)[0]
        out[lang] = set(re.findall(r'^\s*"([^"]+)":', body, re.M))
    return out


def test_every_string_is_in_both_languages() -> None:
    d = dictionaries()
    assert len(d["en"]) > 300
    assert d["en"] - d["zh"] == set(), "missing in Chinese"
    assert d["zh"] - d["en"] == set(), "missing in English"


def test_every_key_the_page_asks_for_is_known() -> None:
    known = dictionaries()["en"]
    asked: set[str] = set()
    for path in APP.rglob("*.tsx"):
        asked |= set(re.findall(r'\bt\("([a-z][\w.\-]*)"', path.read_text()))
    assert asked, "the page asks for no string?"
    assert asked - known == set()


def test_no_alert_box() -> None:
    for path in [*APP.rglob("*.ts"), *APP.rglob("*.tsx")]:
        code = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", '""', path.read_text())  # strings out
        assert not re.search(r"\b(alert|confirm|prompt)\(", code), path.name
