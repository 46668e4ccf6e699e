"""Storage, each tenant apart: SQLite files or PostgreSQL schemas, reached only through a context."""

from jichitai.platform.storage.engine import Storage, UnitOfWork

__all__ = ["Storage", "UnitOfWork"]
