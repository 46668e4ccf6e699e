"""Optional modules: import a package's module when the package is part of this build."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(name: str) -> ModuleType | None:
    """Import ``name``; None when it (or its package) does not exist. Errors inside it propagate."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        parts = name.split(".")
        missing = {".".join(parts[: i + 1]) for i in range(len(parts))}
        if exc.name in missing:
            return None
        raise
