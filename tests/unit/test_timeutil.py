from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.timeutil import (
    BOOT_ID_FILE,
    Instant,
    boot_id,
    format_epoch,
    format_ts,
    now_instant,
    parse_ts,
)


def test_format_is_contract_shape() -> None:
    moment = datetime(2026, 11, 24, 18, 5, 1, 123456, tzinfo=UTC)
    assert format_ts(moment) == "2026-11-24T18:05:01.123Z"


def test_format_converts_to_utc() -> None:
    moment = datetime(2026, 11, 25, 2, 5, 1, 0, tzinfo=timezone(timedelta(hours=8)))
    assert format_ts(moment) == "2026-11-24T18:05:01.000Z"


def test_naive_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_ts(datetime(2026, 1, 1))


def test_roundtrip_epoch() -> None:
    text = format_epoch(1_764_000_000.5)
    assert parse_ts(text).timestamp() == 1_764_000_000.5


def test_parse_rejects_other_forms() -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_ts("2026-11-24T18:05:01Z")


def test_instant_carries_this_boots_id_and_clock() -> None:
    first = now_instant()
    assert first.boot == boot_id() == BOOT_ID_FILE.read_text().strip()
    second = now_instant()
    assert 0 <= second.since_boot - first.since_boot < 5
    assert first.age_of(first.wall, first.boot, first.since_boot) == 0


def test_age_of_uses_the_boot_clock_within_a_boot_only() -> None:
    now = Instant(wall=1_000.0, boot="b", since_boot=500.0)
    assert now.age_of(wall=99_999.0, boot="b", since_boot=440.0) == 60.0  # wall stepped back
    assert now.age_of(wall=940.0, boot="a", since_boot=10.0) == 60.0  # another boot: wall
    assert now.age_of(wall=900.0, boot=None, since_boot=None) == 100.0  # recorded without it
