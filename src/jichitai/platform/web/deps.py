"""Helpers of the web layer: the storage it needs (as protocols, so screens are testable with a
stand-in), transport checks, safe redirects, small numbers read from posted forms
(:func:`posted_index`) and JSON bodies parsed strictly (:func:`parse_json`: no lone surrogates,
bounded nesting).

:class:`jichitai.platform.storage.Storage` satisfies :class:`StorageLike`; tests use
:class:`jichitai.platform.identity.testing.MemoryStorage`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pydantic_core
from fastapi import Request

from jichitai.platform.identity.service import CatalogLike, StorageLike, UnitOfWorkLike

StorageGetter = Callable[[], StorageLike]


def is_loopback(request: Request) -> bool:
    """Whether the request came to a loopback address over plain HTTP (local development)."""
    host = request.url.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_transport(request: Request, forced: bool | None = None) -> bool:
    """Whether cookies must be ``Secure``: always, except plain HTTP on loopback."""
    if forced is not None:
        return forced
    return request.url.scheme == "https" or not is_loopback(request)


def safe_next(value: str | None, default: str) -> str:
    """A local path to go to after login; anything else (other sites, ``//host``) gives ``default``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or len(value) > 500:
        return default
    if any(ord(c) < 0x20 for c in value):
        return default
    return value


__all__ = [
    "CatalogLike",
    "StorageGetter",
    "StorageLike",
    "UnitOfWorkLike",
    "is_loopback",
    "safe_next",
    "secure_transport",
]


def posted_index(text: object, *, digits: int = 4) -> int | None:
    """A small non-negative number a form posts (a row index, a row count), or None.

    ASCII digits only, and few of them: ``str.isdigit`` also admits "²", which ``int`` refuses, and
    ``int`` refuses more than 4,300 digits; either would turn a crafted post into a server error.
    A value that is not text (a file part) is None too.
    """
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None


def parse_json(body: bytes) -> Any:
    """A JSON request body, parsed by pydantic-core; ``ValueError`` for anything it refuses.

    The standard library's parser turns a "\\udc80" escape into a lone surrogate, which passes
    ``str`` checks and fails later at the first UTF-8 encoding (a database driver, a hash), and it
    raises ``RecursionError`` on arrays nested a thousand deep. pydantic-core refuses both (and
    accepts proper surrogate pairs), so a handler that parses through here answers 400 for them.
    """
    return pydantic_core.from_json(body)
