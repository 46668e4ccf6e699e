"""Fixtures for identity tests: a fast argon2 hasher, an injectable clock, an in-memory database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from jichitai.platform.identity.models import IDENTITY_TABLES
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import Clock, Recorder, fast_hasher
from jichitai.platform.storage.base import Base


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=list(IDENTITY_TABLES))
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def service(session: Session, recorder: Recorder, clock: Clock) -> IdentityService:
    return IdentityService(session, recorder, "131016", clock=clock, hasher=fast_hasher())
