"""Every stable error code is listed, by package, in the HTTP API's OpenAPI description, so a
merchant can code against them; and the listing is the packages' own enums, nothing copied."""

from __future__ import annotations

import ast
import importlib
import re
from enum import StrEnum
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qianbao.api.app import create_app
from qianbao.platform.errors import all_codes

SRC = Path(__file__).resolve().parents[1] / "src" / "qianbao"


def _errors_modules() -> list[Path]:
    return sorted(SRC.glob("*/errors.py"))


def _is_str_enum(node: ast.ClassDef) -> bool:
    return any(isinstance(base, ast.Name) and base.id == "StrEnum" for base in node.bases)


def _codes_in_source(path: Path) -> set[str]:
    """StrEnum members' values and ``code = "…"`` class attributes of an errors.py."""
    codes: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                    target = stmt.targets[0]
                    is_code = isinstance(target, ast.Name) and target.id == "code"
                    if _is_str_enum(node) or is_code:
                        codes.add(str(stmt.value.value))
    return codes


@pytest.fixture
def described(sqlite_platform) -> str:
    schema = TestClient(create_app(sqlite_platform)).get("/openapi.json").json()
    return str(schema["info"]["description"])


def test_every_errors_module_code_is_in_the_openapi_description(described: str) -> None:
    assert "## Error codes" in described
    missing = {
        f"{path.parent.name}: {code}"
        for path in _errors_modules()
        for code in _codes_in_source(path)
        if f"`{code}`" not in described
    }
    assert not missing


def test_codes_are_grouped_by_package(sqlite_platform, described: str) -> None:
    for package, codes in all_codes(sqlite_platform.error_codes).items():
        [line] = [x for x in described.splitlines() if x.startswith(f"* **{package}**: ")]
        assert all(f"`{code}`" in line for code in codes)
    assert "* **api**: " in described


def test_every_package_enum_is_registered(sqlite_platform) -> None:
    registered = {str(code) for codes in sqlite_platform.error_codes.values() for code in codes}
    for path in _errors_modules():
        if path.parent.name in ("platform", "api"):  # listed by all_codes() and api/app.py
            continue
        module = importlib.import_module(f"qianbao.{path.parent.name}.errors")
        for enum in vars(module).values():
            if isinstance(enum, type) and issubclass(enum, StrEnum) and enum is not StrEnum:
                unlisted = {str(code) for code in enum} - registered
                assert not unlisted, f"bootstrap.py does not register {enum.__qualname__}"


def test_the_platforms_inline_codes_are_listed() -> None:
    own = set(all_codes()["platform"])
    for path in (SRC / "platform").glob("*.py"):
        for code in re.findall(r'code="([A-Z_]+)"', path.read_text(encoding="utf-8")):
            assert code in own, f"{path.name} raises {code}, which all_codes() does not list"


def test_a_real_error_carries_a_listed_code(sqlite_platform, described: str) -> None:
    client = TestClient(create_app(sqlite_platform))
    answer = client.post("/api/v1/sessions", json={"phone": "13800000000", "password": "x1234567"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "WRONG_LOGIN_PASSWORD"
    assert "`WRONG_LOGIN_PASSWORD`" in described
