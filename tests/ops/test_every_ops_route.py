"""Every page and action of the back office (every route of the app under ``/ops``, whoever's
module registered it) refuses a request without a signed-in operator (the sign-in form, or 401
for an action) and a role without the permission (403), and neither refusal changes any row.

The routes are read from ``app.routes``, so a page added later is walked without editing this
test; their path and form parameters are filled from their declared types. A role holding no
permission at all (``nobody``, added for the test) must be refused everywhere; each real role must
change nothing wherever it is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from qianbao.members import credentials, roles
from qianbao.platform.clock import clock
from qianbao.platform.runtime import Platform
from qianbao.server import build_app
from tests.conftest import make_platform
from tests.factories import page_csrf
from tests.ops.helpers import operator_key

NOT_WALKED = {"/ops/login", "/ops/logout"}  # the sign-in itself: tests/security/test_ops_shell.py
NO_ROLE = "nobody"
CHANGES_ALLOWED = {"operator_audit"}  # a refusal is audited, and that is all it may change
ID_LIKE = "179623185636128001"
SIGN_IN_FORM = 'name="api_key"'


def _value(field: Any) -> str:
    """A plausible value of a declared parameter (its type, within its length limit)."""
    text = str(field.field_info.annotation)
    if "date" in text:
        return (clock.today() - timedelta(days=1)).isoformat()
    if "bool" in text:
        return "true"
    if "int" in text or "Decimal" in text or "float" in text:
        return "1"
    limits = [m.max_length for m in field.field_info.metadata if hasattr(m, "max_length")]
    return ID_LIKE[: min([len(ID_LIKE), *limits])]


def _request_of(route: APIRoute) -> tuple[str, dict[str, str]]:
    path = route.path
    for param in route.dependant.path_params:
        path = path.replace("{" + param.name + "}", _value(param))
    form = {f.alias: _value(f) for f in route.dependant.body_params}
    return path, form


def _fingerprint(p: Platform) -> dict[str, str]:
    """A digest of every table's rows in every database (but the audit log's)."""
    digests: dict[str, str] = {}
    for n, db in enumerate([p.global_db, *p.units]):
        with db.read() as tx:
            names = tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")
            for table in [str(r["name"]) for r in names if r["name"] not in CHANGES_ALLOWED]:
                rows = [repr(sorted(dict(r).items())) for r in tx.all(f"SELECT * FROM {table}")]
                digest = hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()
                digests[f"{n}.{table}"] = digest
    return digests


def _flat(routes: list[Any]) -> Iterator[Any]:
    """The app's routes with included routers opened (FastAPI ≥ 0.16x keeps an included router
    as one entry; ``create_app`` includes them without a prefix, so each route's path is whole)."""
    for r in routes:
        included = getattr(r, "original_router", None)
        yield from _flat(included.routes) if included is not None else [r]


def _walked(app: Any) -> list[tuple[str, APIRoute]]:
    return [
        (method, r)
        for r in _flat(app.routes)
        if isinstance(r, APIRoute)
        and (r.path == "/ops" or r.path.startswith("/ops/"))
        and r.path not in NOT_WALKED
        for method in sorted(r.methods - {"HEAD"})
    ]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    p = make_platform("sqlite", tmp_path_factory.mktemp("walk"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(roles.ROLES, NO_ROLE, frozenset())
        keys = {
            role: credentials.web_session(p, operator_key(p, role), credentials.OPS_WEB)
            for role in roles.ROLES
        }
        yield {"p": p, "app": build_app(p), "keys": keys}
    p.close()


def _send(walk: dict[str, Any], role: str | None, method: str, route: APIRoute) -> Any:
    c = TestClient(walk["app"])
    csrf = page_csrf(c, "/ops/login")
    if role is not None:
        c.cookies.set("qb_operator", walk["keys"][role])
    path, form = _request_of(route)
    if method == "GET":
        return c.get(path, follow_redirects=False)
    return c.request(method, path, data={**form, "csrf_token": csrf}, follow_redirects=False)


def _refusal_problem(role: str | None, method: str, answer: Any) -> str:
    """What is wrong with the answer to a request that must be refused ('' when nothing)."""
    if role is not None:
        return "" if answer.status_code == 403 else f"answered {answer.status_code}, not 403"
    if method == "GET":
        asks = answer.status_code in (200, 401) and SIGN_IN_FORM in answer.text
        return "" if asks else f"answered {answer.status_code} without the sign-in form"
    return "" if answer.status_code == 401 else f"answered {answer.status_code}, not 401"


def test_the_walk_covers_the_back_office(walk):
    walked = _walked(walk["app"])
    paths = {r.path for _, r in walked}
    assert {"/ops", "/ops/users", "/ops/books", "/ops/messages", "/ops/audit"} <= paths
    assert sum(m == "POST" for m, _ in walked) >= 5


@pytest.mark.parametrize("role", [None, NO_ROLE])
def test_no_operator_or_no_permission_is_refused_everywhere_and_changes_nothing(walk, role):
    problems = []
    for method, route in _walked(walk["app"]):
        before = _fingerprint(walk["p"])
        answer = _send(walk, role, method, route)
        problem = _refusal_problem(role, method, answer)
        if _fingerprint(walk["p"]) != before:
            problem += " and changed rows"
        if problem:
            problems.append(f"{method} {route.path}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", sorted(roles.ROLES))
def test_a_real_role_refused_changes_nothing(walk, role):
    problems, refused = [], 0
    for method, route in _walked(walk["app"]):
        before = _fingerprint(walk["p"])
        answer = _send(walk, role, method, route)
        assert answer.status_code < 500, f"{method} {route.path}: {answer.text[:300]}"
        if answer.status_code == 403:
            refused += 1
            if _fingerprint(walk["p"]) != before:
                problems.append(f"{method} {route.path}: refused but changed rows")
    assert not problems, "\n".join(problems)
    if role != "admin":
        assert refused, f"{role} is refused nothing: least privilege is not at work"
