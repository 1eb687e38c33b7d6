"""The "homes for rules" contracts and their ratchet: today's violations are allow-listed in
``tests/tidy/allowlists/*.txt``; a new one fails, and so does an entry that no longer occurs (or
now measures less), so the lists only ever shrink.

Run from the repository root (pure AST, no PYTHONPATH needed)::

    python -m tests.tidy.contracts                     # report every problem, exit 1 if any
    python -m tests.tidy.contracts --tighten           # drop stale entries, lower numbers
    python -m tests.tidy.contracts --print-allowlists  # today's findings as lists, on stdout
    python -m tests.tidy.contracts --accept-all        # lists := today (review the diff!)

``--tighten`` never adds an entry or raises a number, so it cannot hide a new violation; the tests
never rewrite anything, they compare against the committed lists.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.tidy.core import PACKAGE_ROOT, Finding, Module, load_modules
from tests.tidy.layers import check_imports
from tests.tidy.literals import (
    check_error_codes,
    check_sql_location,
    check_status_writes,
)
from tests.tidy.sizes import (
    FUNCTION_MAX_LINES,
    MODULE_MAX_LINES,
    check_function_length,
    check_module_length,
)

LISTS_DIR = Path(__file__).resolve().parent / "allowlists"
TIGHTEN = "python -m tests.tidy.contracts --tighten"
ACCEPT_ALL = "python -m tests.tidy.contracts --accept-all"
MAX_SHOWN = 8  # occurrences printed per new entry


@dataclass(frozen=True)
class Contract:
    """A rule, its checker, and how its allow-list entries are measured."""

    name: str  # also the allow-list file name: allowlists/<name>.txt
    rule: str  # one line, written at the top of the allow-list
    key_form: str  # how an entry is spelled, for the header
    check: Callable[[Sequence[Module]], list[Finding]]
    sized: bool  # True: an entry holds a size (lines); False: a count of occurrences

    def list_path(self, lists_dir: Path = LISTS_DIR) -> Path:
        return lists_dir / f"{self.name}.txt"


CONTRACTS: tuple[Contract, ...] = (
    Contract(
        "imports",
        "imports point down (entry points > use cases > money_movement > ledger/members/channels"
        " > platform), no package cycles within a layer; TYPE_CHECKING imports exempt",
        "importer -> imported  <number of import statements>  # why",
        check_imports,
        sized=False,
    ),
    Contract(
        "function_length",
        f"no function longer than {FUNCTION_MAX_LINES} lines (def to end, docstring excluded)",
        "path/in/package.py::Qualified.name  <lines>",
        check_function_length,
        sized=True,
    ),
    Contract(
        "module_length",
        f"no module longer than {MODULE_MAX_LINES} lines",
        "path/in/package.py  <lines>",
        check_module_length,
        sized=True,
    ),
    Contract(
        "status_writes",
        "status columns are written only by src/qianbao/platform/states.py (StateMachine)",
        "path/in/package.py::function  <raw status writes>",
        check_status_writes,
        sized=False,
    ),
    Contract(
        "sql_location",
        "SQL is executed only from store.py / queries.py / tables.py, migrations and platform/",
        "path/in/package.py  <SQL statements executed>",
        check_sql_location,
        sized=False,
    ),
    Contract(
        "error_codes",
        'error codes (code="...") are literals only in */errors.py',
        "path/in/package.py  <code= literals>",
        check_error_codes,
        sized=False,
    ),
)


def tally(contract: Contract, findings: Sequence[Finding]) -> dict[str, int]:
    """Per key: the largest size (sized contracts) or the number of occurrences."""
    totals: dict[str, int] = {}
    for f in findings:
        before = totals.get(f.key, 0)
        totals[f.key] = max(before, f.amount) if contract.sized else before + f.amount
    return totals


def read_allowlist(path: Path) -> dict[str, int]:
    """Parse ``key  number  # comment`` lines; a missing file is an empty list."""
    if not path.exists():
        return {}
    entries: dict[str, int] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip().replace("\t", " ")
        if not line:
            continue
        key, _, amount = line.rpartition(" ")
        key = key.strip()
        if not key or not amount.isdigit():
            raise ValueError(f"{path}:{number}: expected 'key  number', got {raw!r}")
        if key in entries:
            raise ValueError(f"{path}:{number}: {key!r} is listed twice (a merge?)")
        entries[key] = int(amount)
    return entries


def render_allowlist(contract: Contract, findings: Sequence[Finding], keep: dict[str, int]) -> str:
    """The allow-list file text for ``keep`` (key -> number), sorted, one entry a line."""
    notes: dict[str, set[str]] = {}
    for f in findings:
        if f.note:
            notes.setdefault(f.key, set()).add(f.note)
    header = [
        f"# Allow-list of today's exceptions to: {contract.rule}.",
        f"# One entry a line: {contract.key_form}. Sorted; edit by hand after a merge if needed.",
        "# An entry may only go down: a new key or a higher number fails the test, and so does an",
        f"# entry that no longer occurs or now measures less. Tighten with: {TIGHTEN}",
        "# See docs/contracts.md.",
        "",
    ]
    width = max((len(k) for k in keep), default=0)
    body = [
        f"{key.ljust(width)}  {keep[key]}"
        + (f"  # {'; '.join(sorted(notes[key]))}" if key in notes else "")
        for key in sorted(keep)
    ]
    return "\n".join(header + body) + "\n"


def ratchet(contract: Contract, findings: Sequence[Finding], allowed: dict[str, int]) -> list[str]:
    """Every difference between today's findings and the allow-list, each a failure message."""
    found = tally(contract, findings)
    problems = [
        _new(contract, key, findings, allowed)
        for key in sorted(found)
        if _grew(key, found, allowed)
    ]
    for key in sorted(allowed):
        now = found.get(key, 0)
        if now == 0:
            problems.append(
                f"{key}: no longer a violation: remove this stale exception (remove from the "
                f"list tests/tidy/allowlists/{contract.name}.txt, or run: {TIGHTEN})"
            )
        elif now < allowed[key]:
            problems.append(
                f"{key}: now {now}, the list allows {allowed[key]}: lower the entry to {now} "
                f"so it cannot grow back (run: {TIGHTEN})"
            )
    return problems


def _grew(key: str, found: dict[str, int], allowed: dict[str, int]) -> bool:
    return found[key] > allowed.get(key, 0)


def _new(contract: Contract, key: str, findings: Sequence[Finding], allowed: dict[str, int]) -> str:
    mine = [f for f in findings if f.key == key]
    now = tally(contract, mine)[key]
    if key in allowed:
        head = f"{key}: {now}, the list allows {allowed[key]}: an exception may only shrink"
    else:
        head = f"{key}: new violation ({now})"
    shown = [f"    {f.detail}" for f in mine[:MAX_SHOWN]]
    more = [f"    ... and {len(mine) - MAX_SHOWN} more"] if len(mine) > MAX_SHOWN else []
    return "\n".join([head, *shown, *more])


def run_contract(
    contract: Contract, modules: Sequence[Module], lists_dir: Path = LISTS_DIR
) -> list[str]:
    """Check ``modules`` against the committed allow-list of ``contract``."""
    return ratchet(contract, contract.check(modules), read_allowlist(contract.list_path(lists_dir)))


def failure_message(contract: Contract, problems: Sequence[str]) -> str:
    """What a failing test prints: every problem, then how to fix and how to regenerate."""
    return "\n".join(
        [
            f"contract '{contract.name}' ({contract.rule}): {len(problems)} problem(s)",
            *problems,
            f"Fix new violations as each message says (docs/contracts.md). When violations were "
            f"removed, tighten the list from the repo root: {TIGHTEN}",
            f"Only if existing violations merely moved (a file split or rename), re-baseline and "
            f"review the diff of tests/tidy/allowlists/: {ACCEPT_ALL}",
        ]
    )


def write_lists(modules: Sequence[Module], lists_dir: Path, *, accept_new: bool) -> list[str]:
    """Rewrite every allow-list: tightened (``accept_new`` False) or equal to today's findings."""
    remaining = []
    for contract in CONTRACTS:
        findings = contract.check(modules)
        found = tally(contract, findings)
        path = contract.list_path(lists_dir)
        if accept_new:
            keep = found
        else:
            allowed = read_allowlist(path)
            keep = {k: min(v, found[k]) for k, v in allowed.items() if k in found}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_allowlist(contract, findings, keep), encoding="utf-8")
        remaining.extend(ratchet(contract, findings, keep))
    return remaining


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tidy.contracts", description=__doc__.split("\n\n")[0]
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--tighten", action="store_true", help="drop stale entries, lower numbers")
    mode.add_argument("--accept-all", action="store_true", help="lists := today's findings")
    mode.add_argument("--print-allowlists", action="store_true", help="print today's lists")
    parser.add_argument("--root", type=Path, default=PACKAGE_ROOT, help="the qianbao package dir")
    parser.add_argument("--lists", type=Path, default=LISTS_DIR, help="the allow-list directory")
    args = parser.parse_args(argv)
    modules = load_modules(args.root)
    if args.print_allowlists:
        for contract in CONTRACTS:
            findings = contract.check(modules)
            print(f"==> {contract.list_path(args.lists)}")
            print(render_allowlist(contract, findings, tally(contract, findings)))
        return 0
    if args.tighten or args.accept_all:
        problems = write_lists(modules, args.lists, accept_new=args.accept_all)
    else:
        problems = [p for c in CONTRACTS for p in run_contract(c, modules, args.lists)]
    print("\n".join(problems) if problems else "all contracts hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
