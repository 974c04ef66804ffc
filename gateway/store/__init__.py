"""Storage: the one SQLite database, its writer thread and its migrations."""

from gateway.store.database import Database, DatabaseClosed

__all__ = ["Database", "DatabaseClosed"]
