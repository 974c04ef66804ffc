from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.timeutil import format_epoch, format_ts, parse_ts


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
