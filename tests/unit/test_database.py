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
