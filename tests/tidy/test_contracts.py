"""The "homes for rules" contracts on today's tree, against the committed allow-lists.

Each test fails on a new violation, on a listed exception that grew, and on a listed exception
that shrank or disappeared (the list must follow it down: ``python -m tests.tidy.contracts
--tighten``). Nothing here rewrites a list. Rules and fixes: docs/contracts.md.
"""

from __future__ import annotations

import pytest

from tests.tidy.contracts import (
    CONTRACTS,
    LISTS_DIR,
    Contract,
    failure_message,
    read_allowlist,
    run_contract,
)
from tests.tidy.core import real_modules
from tests.tidy.layers import unplaced

BY_NAME = {c.name: c for c in CONTRACTS}


def _holds(contract: Contract) -> None:
    problems = run_contract(contract, real_modules())
    assert not problems, failure_message(contract, problems)


def test_imports_point_down() -> None:
    """Layers, top to bottom: entry points (api, web, cli, server, entrypoints, demo, terminal,
    bootstrap and every ``*/cli.py``) > use cases (payments, credit, marketing, openapi, scoring,
    wealth, risk) > money_movement > ledger, members, channels > platform. An import may point
    down, stay in its package, or go sideways in its layer when that closes no package cycle.
    bootstrap.py, the composition root, may import anything. Lazy imports count;
    TYPE_CHECKING-only imports do not."""
    _holds(BY_NAME["imports"])


def test_every_package_has_a_layer() -> None:
    """A new top-level package must be placed in a layer before it can be checked."""
    problems = unplaced(real_modules())
    assert not problems, "\n".join(problems)


def test_functions_are_short() -> None:
    """No function or method is longer than 70 lines, counted from the ``def`` line to the last
    line of its body (``end_lineno - lineno + 1``) minus its docstring; decorators do not count.
    Alembic revisions are exempt (frozen history)."""
    _holds(BY_NAME["function_length"])


def test_modules_are_short() -> None:
    """No module is longer than 800 physical lines."""
    _holds(BY_NAME["module_length"])


def test_status_is_written_by_the_state_machine() -> None:
    """Only src/qianbao/platform/states.py writes a ``status`` column: no ``UPDATE ... SET``
    list (nor upsert ``DO UPDATE SET``) assigns ``status`` elsewhere, and no INSERT hard-codes a
    status that is not an initial one (PENDING, OPEN, PREPARED, ...)."""
    _holds(BY_NAME["status_writes"])


def test_sql_lives_in_stores() -> None:
    """SQL statements (SELECT/INSERT/UPDATE/DELETE/WITH executed by a Tx method or handed to a
    helper) live only in store.py, queries.py, tables.py, migrations and platform/; the count per
    other module may only go down."""
    _holds(BY_NAME["sql_location"])


def test_error_codes_live_in_errors_modules() -> None:
    """``code="..."`` string literals appear only in ``*/errors.py``; the count per other module
    may only go down."""
    _holds(BY_NAME["error_codes"])


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.name)
def test_allowlist_is_sorted_one_entry_a_line(contract: Contract) -> None:
    """Sorted lists merge cleanly and are easy to edit by hand."""
    keys = list(read_allowlist(contract.list_path(LISTS_DIR)))  # raises on a duplicate key
    assert keys == sorted(keys), f"{contract.list_path()} is not sorted"
