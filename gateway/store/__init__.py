"""Storage: the one SQLite database, its writer thread and its migrations."""

from gateway.store.database import Database, DatabaseClosed, DatabaseCorrupt

__all__ = ["Database", "DatabaseClosed", "DatabaseCorrupt"]
