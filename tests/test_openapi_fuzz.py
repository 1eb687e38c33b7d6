"""Schemathesis against our own OpenAPI: generated requests (valid and invalid) under user,
merchant and operator credentials never get a 5xx, and no response breaks the documented
schema. Bounded: ``EXAMPLES_PER_OPERATION`` examples per operation under the credential that
operation is for, and ``CROSS_EXAMPLES`` under each of the other two (a wrong caller must get a
clean 4xx too)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from starlette.testclient import TestClient

from qianbao.demo import load_demo
from qianbao.server import build_app
from tests.conftest import make_platform

EXAMPLES_PER_OPERATION = int(os.environ.get("QIANBAO_FUZZ_EXAMPLES", "50"))
CROSS_EXAMPLES = 5
CHECKS = [not_a_server_error, response_schema_conformance]
# The suite replays the same examples every run (a red build must mean a change broke
# something); QIANBAO_FUZZ_EXPLORE=1 draws new ones to look for more.
EXPLORE = os.environ.get("QIANBAO_FUZZ_EXPLORE") == "1"
# Operations that end the caller's session: they run under a fresh session of the other demo
# user, so they never end the one every later operation uses.
ENDS_SESSIONS = {("DELETE", "/api/v1/sessions/current"), ("DELETE", "/api/v1/me/sessions")}


def _session(app: Any, user: dict[str, Any]) -> dict[str, str]:
    login = TestClient(app).post(
        "/api/v1/sessions", json={"phone": user["phone"], "password": user["login_password"]}
    )
    return {"Authorization": f"Bearer {login.json()['token']}"}


def _credentials(app: Any, demo: dict[str, Any]) -> dict[str, dict[str, str]]:
    bearer = "Bearer {}".format
    return {
        "user": _session(app, demo["users"][0]),
        "merchant": {"Authorization": bearer(demo["merchant"]["api_key"])},
        "operator": {"Authorization": bearer(demo["operator"]["api_key"])},
    }


def _owner(path: str) -> str:
    if path.startswith("/api/v1/ops/"):
        return "operator"
    if path.startswith("/api/v1/merchant/"):
        return "merchant"
    return "user"


def _run(
    operation: Any,
    headers: dict[str, str],
    examples: int,
    failures: list[str],
    fresh: Callable[[], dict[str, str]],
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        own = fresh() if (case.method.upper(), case.path) in ENDS_SESSIONS else headers
        try:
            response = case.call(headers=own)
        except Exception as exc:  # the app raised instead of answering
            failures.append(f"{case.method} {case.formatted_path}: {exc!r}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=own)
        except Exception as exc:  # a 5xx, or a body the schema does not describe
            failures.append(f"{case.method} {case.formatted_path} {response.status_code}: {exc}")

    check()


def test_no_operation_answers_a_server_error_or_breaks_its_schema(tmp_path):
    p = make_platform("sqlite", tmp_path)
    try:
        demo, _ = load_demo(p)
        app = build_app(p)
        credentials = _credentials(app, demo)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 50
        for operation in operations:
            owner = _owner(operation.path)
            for who, headers in credentials.items():
                count = EXAMPLES_PER_OPERATION if who == owner else CROSS_EXAMPLES
                _run(operation, headers, count, failures, lambda: _session(app, demo["users"][1]))
        assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:15])
    finally:
        p.close()
