import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from gateway.store import Database, DatabaseClosed
from gateway.store.migrations import apply_migrations, load_migrations


async def test_writes_run_off_the_event_loop(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def job(d):  # type: ignore[no-untyped-def]
        seen.append(threading.get_ident())
        d.execute("INSERT INTO gateway_meta(key, value) VALUES ('a', '1')")

    await db.run(job)
    assert seen and seen[0] != loop_thread
    value = await db.read(lambda d: d.execute("SELECT value FROM gateway_meta").fetchone()[0])
    assert value == "1"
    await db.close()


async def test_failed_job_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()

    def bad(d):  # type: ignore[no-untyped-def]
        d.execute("INSERT INTO gateway_meta(key, value) VALUES ('a', '1')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.run(bad)
    count = await db.read(lambda d: d.execute("SELECT count(*) FROM gateway_meta").fetchone()[0])
    assert count == 0
    await db.close()
    with pytest.raises(DatabaseClosed):
        await db.run(lambda d: None)


async def test_concurrent_jobs_are_serialised(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()

    def incr(d):  # type: ignore[no-untyped-def]
        row = d.execute("SELECT value FROM gateway_meta WHERE key='n'").fetchone()
        n = int(row[0]) if row else 0
        d.execute("INSERT OR REPLACE INTO gateway_meta(key, value) VALUES ('n', ?)", [str(n + 1)])

    await asyncio.gather(*(db.run(incr) for _ in range(50)))
    n = await db.read(
        lambda d: d.execute("SELECT value FROM gateway_meta WHERE key='n'").fetchone()[0]
    )
    assert n == "50"
    await db.close()


def test_migrations_numbered_and_applied(tmp_path: Path) -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    assert apply_migrations(conn) == migrations[-1].version
    assert apply_migrations(conn) == migrations[-1].version  # idempotent
    conn.execute("PRAGMA user_version=9999")
    with pytest.raises(RuntimeError, match="newer"):
        apply_migrations(conn)


async def test_damaged_file_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    path.write_bytes(b"this is not a database, it is garbage" * 100)
    db = Database(path)
    outcome = await db.open_or_replace()
    assert outcome is not None and "moved to" in outcome
    kept = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not a database")
    await db.run(lambda d: d.execute("INSERT INTO gateway_meta VALUES ('k', 'v')"))
    await db.close()
    healthy = Database(path)
    assert await healthy.open_or_replace() is None
    await healthy.close()


def test_every_older_schema_upgrades(tmp_path: Path) -> None:
    newest = load_migrations()[-1].version
    for start in range(0, newest):
        conn = sqlite3.connect(tmp_path / f"v{start}.db", isolation_level=None)
        assert apply_migrations(conn, target=start) == start  # a database of that version
        assert apply_migrations(conn) == newest
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"gateway_meta", "outbox", "commands", "devices", "label_twins", "alerts"} <= tables
        conn.close()
