"""The gateway's SQLite database: one file, one writer thread.

Every statement runs on a single dedicated thread that owns the connection, so
the event loop never waits on a commit (or its fsync) and there is exactly one
writer. Callers hand over a function that receives a ``sqlite_utils.Database``
and runs inside one transaction::

    rows = await db.run(lambda d: d.execute("SELECT ...").fetchall())

Batching is the caller's job: throughput is about commits, not rows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal, TypeVar

import sqlite_utils

from gateway.store.migrations import apply_migrations

T = TypeVar("T")

Synchronous = Literal["off", "normal", "full", "extra"]


class DatabaseClosed(RuntimeError):
    """The database was closed; nothing more can be run on it."""


class DatabaseCorrupt(RuntimeError):
    """The file is not a usable SQLite database (damaged, or not a database at all)."""


class Database:
    def __init__(
        self,
        path: Path | str,
        *,
        synchronous: Synchronous = "full",
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._target = str(path)
        self._synchronous = synchronous
        self._max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._hooks: list[Callable[[bool], None]] = []
        self._db: sqlite_utils.Database | None = None
        self._closed = False
        self.schema_version = 0
        # Progress marker for the watchdog: monotonic time of the last finished job.
        self.last_progress: float = 0.0

    # ---- lifecycle -------------------------------------------------------------------

    async def open(self) -> None:
        await self._submit(self._open_in_thread)

    async def open_or_replace(self) -> str | None:
        """Open; if the file is damaged, move it aside (never delete it) and start a fresh
        one. Returns what happened to the damaged file, or None if it was fine."""
        try:
            await self.open()
            return None
        except DatabaseCorrupt as exc:
            reason = str(exc)
        aside = await self._submit(self.move_aside)
        await self.open()
        return f"{reason}; moved to {aside}"

    def _open_in_thread(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._target, isolation_level=None, check_same_thread=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise DatabaseCorrupt(f"{self._target}: {exc}") from exc
        if check != "ok":
            conn.close()
            raise DatabaseCorrupt(f"{self._target}: integrity check failed: {check}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=5000")
        if self._max_bytes is not None:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            conn.execute(f"PRAGMA max_page_count={max(16, self._max_bytes // page_size)}")
        self._db = sqlite_utils.Database(conn)
        self.schema_version = apply_migrations(conn)

    def move_aside(self) -> Path | None:
        """Rename a damaged database file (and its WAL) out of the way; never delete it."""
        if self.path is None or not self.path.exists():
            return None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.rename(Path(f"{aside}{suffix}"))
        return aside

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self._submit(self._close_in_thread)
        finally:
            self._closed = True
            self._executor.shutdown(wait=True)

    def _close_in_thread(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None

    # ---- running work ----------------------------------------------------------------

    async def run(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``fn`` in one transaction on the writer thread; commit if it returns."""
        return await self._submit(lambda: self._in_transaction(fn))

    async def read(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        """Run a read-only ``fn`` on the writer thread (no transaction is opened)."""
        return await self._submit(lambda: fn(self._require()))

    def _require(self) -> sqlite_utils.Database:
        if self._db is None:
            raise DatabaseClosed(f"database {self._target} is not open")
        return self._db

    def when_done(self, hook: Callable[[bool], None]) -> None:
        """Inside a transaction (on the writer thread): call ``hook(committed)`` once it has
        ended, so that in-memory mirrors change only after the commit that justifies them."""
        self._hooks.append(hook)

    def _in_transaction(self, fn: Callable[[sqlite_utils.Database], T]) -> T:
        db = self._require()
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        self._hooks = []
        try:
            result = fn(db)
        except BaseException:
            conn.execute("ROLLBACK")
            self._end(committed=False)
            raise
        conn.execute("COMMIT")
        self._end(committed=True)
        return result

    def _end(self, *, committed: bool) -> None:
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook(committed)

    async def _submit(self, job: Callable[[], T]) -> T:
        if self._closed:
            raise DatabaseClosed(f"database {self._target} is closed")
        loop = asyncio.get_running_loop()

        def timed() -> T:
            result = job()
            self.last_progress = time.monotonic()
            return result

        return await loop.run_in_executor(self._executor, timed)
