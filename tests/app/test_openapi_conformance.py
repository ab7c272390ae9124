"""Schemathesis against the running service: no 5xx for any input, responses as documented."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from app.main import create_app
from app.settings import Settings
from tests.conftest import ADMIN_KEY
from tests.databases import copy_sqlite

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
RESPONSE_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.allow_header_conformance,
]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def served(request, sqlite_template: Path, tmp_path_factory) -> Iterator[str]:
    """The service over real HTTP (uvicorn in a thread), with a few contacts to find."""
    if request.param == "sqlite":
        url = copy_sqlite(sqlite_template, tmp_path_factory.mktemp("conformance"))
    else:
        from tests.databases import empty_postgres

        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Settings(database_url=url, admin_api_key=ADMIN_KEY, _env_file=None))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    for n in range(1, 4):
        httpx.post(f"{base}/v1/contacts", json={"external_id": f"c-{n}"}, headers=AUTH)
    yield base
    server.should_exit = True
    thread.join(timeout=30)


@schemathesis.serializer("application/x-ndjson")
def ndjson(_context, value) -> bytes:
    """NDJSON bodies as a client sends them; the schema describes them as text. The standard
    library writes any integer, as clients may: the service must refuse one beyond 64 bits."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


# The document the service publishes at /openapi.json; it needs no database to build.
DOCUMENT = create_app(Settings(_env_file=None)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)
# Campaign definitions and audience filters are deep, recursive documents: generating them
# costs far more than answering them, and the coverage phase's boundary cases multiply with
# every nesting level, so those operations get random examples only.
deep_schema = schemathesis.openapi.from_dict(
    DOCUMENT, config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
)
_DEEP_PATHS = r"^/v1/campaigns(/\{campaign_id\}(/enrollments)?)?$"
_DEEP_METHODS = ["POST", "PUT"]
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.filter_too_much]


def call(case, base_url: str) -> None:
    # Whatever the input, valid or not: never a 5xx, and every answer as the document says.
    # (Whether an input *should* be accepted is not checked here: a phone number must exist
    # in its country, which JSON Schema cannot say, and every case carries the admin key.)
    case.call_and_validate(base_url=base_url, headers=AUTH, checks=RESPONSE_CHECKS)


@schema.exclude(path_regex=_DEEP_PATHS, method=_DEEP_METHODS).parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=_SLOW_IS_FINE)
def test_every_operation_answers_as_documented(case, served):
    call(case, served)


@pytest.fixture(scope="module")
def deep_recursion():
    """Building the strategy of a recursive schema (conditions nest in conditions) walks
    deeper than Python's default limit of 1,000 frames on some draws."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    yield
    sys.setrecursionlimit(limit)


@deep_schema.include(path_regex=_DEEP_PATHS, method=_DEEP_METHODS).parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=_SLOW_IS_FINE)
def test_campaign_definitions_and_filters_answer_as_documented(case, served, deep_recursion):
    call(case, served)
