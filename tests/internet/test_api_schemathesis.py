"""Property-based tests of the published OpenAPI document against the app, in-process (ASGI).

Schemathesis generates requests from ``/api/v1/openapi.json`` (valid and invalid ones) for every
operation; each answer must not be a server error and must conform to the document (status code,
content type, body schema). The number of examples is bounded so the run stays short.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from jichitai.internet.api import OPENAPI_PATH
from jichitai.internet.submissions.encryption import forget_submission_keys
from jichitai.internet.submissions.verification import forget_trust_material
from jichitai.platform.storage import Storage
from tests.conftest import add_demo_tenant, close_storage, make_settings, make_storage
from tests.internet.api_support import CHIYODA, create_client, make_client, token_for
from tests.internet.conftest import Pki
from tests.internet.factories import as_json_body, submission

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class ApiUnderTest:
    def __init__(self, storage: Storage, app: Any, token: str, receipt: str) -> None:
        self.storage = storage
        self.app = app
        self.token = token
        self.receipt = receipt


@pytest.fixture(scope="module")
def api_under_test(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[ApiUnderTest]:
    storage = make_storage(make_settings(Path(tmp_path_factory.mktemp("schemathesis")) / "home"))
    add_demo_tenant(storage)
    pki.install(storage)
    client = make_client(storage)
    answer = client.post(f"/api/v1/tenants/{CHIYODA}/submissions", json=as_json_body(submission(pki)))
    assert answer.status_code == 201
    token = token_for(client, create_client(storage, CHIYODA))
    yield ApiUnderTest(storage, client.app, token, answer.json()["receipt_number"])
    close_storage(storage)
    forget_trust_material()
    forget_submission_keys()


def _pick(value: Any) -> bool:
    return hashlib.sha256(repr(value).encode()).digest()[0] % 2 == 0


def _exercise(case: Any, api: ApiUnderTest, seen: Counter[int]) -> None:
    # Aim the requests at the tenant the token belongs to, and half of them at a real application,
    # so generated data reaches the handlers instead of stopping at the tenant check.
    if case.path_parameters and "tenant" in case.path_parameters:
        case.path_parameters["tenant"] = CHIYODA
        if "receipt_number" in case.path_parameters and _pick(case.path_parameters["receipt_number"]):
            case.path_parameters["receipt_number"] = api.receipt
    headers = {"Authorization": f"Bearer {api.token}"} if "/applications" in case.path else None
    response = case.call(headers=headers)
    seen[response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi(api_under_test: ApiUnderTest, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi(OPENAPI_PATH, api_under_test.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 11  # eight single operations and the three batch ones
    seen: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            _exercise(case, api_under_test, seen)

        run()
    # the generated requests reached the handlers, not only the authentication in front of them
    assert seen[200] + seen[201] + seen[404] + seen[400] + seen[422] > sum(seen.values()) // 3, seen
    assert not any(status >= 500 for status in seen), seen
