"""What keeps the score from being gamed (issue 11 item 8), as pure rules.

* **One application per period.** A new application (not a re-score, not a replay of the same
  request id) within ``period_days`` of the user's last one is refused: with unlimited
  applications an applicant searches the answers for the best score (43 tries took the demo user
  from 708 to 940).
* **Answers that contradict the records are refused**, not scored: the age on the verified ID,
  the Huabei repayment history (a clean credit history claimed over bills paid late or overdue
  now) and Huabei installment plans still running (claimed "none").
* **Reasons without the recipe.** The applicant sees the top reasons as plain words, never the
  points table (points per attribute, points lost, the value that would have scored better);
  operators see everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qianbao.scoring.behaviour import BehaviourFeatures

DAY_MS = 86_400_000
DEFAULT_PERIOD_DAYS = 30
USER_REASONS = 3
# German Credit's credit_history answers that claim no late payment at all.
CLEAN_HISTORY = frozenset(
    {
        "all credits at this bank paid back duly",
        "existing credits paid back duly till now",
        "no credits taken/ all credits paid back duly",
    }
)
NO_INSTALLMENTS = "none"


@dataclass(frozen=True)
class Known:
    """What the platform knows for certain about an applicant."""

    age_years: int
    behaviour: BehaviourFeatures
    open_installment_plans: int


def contradictions(answers: dict[str, Any], known: Known, age_attribute: str) -> list[str]:
    """Each answer that contradicts the records, in words (empty: none)."""
    found = []
    age = answers.get(age_attribute)
    if age is not None and not _same_number(age, known.age_years):
        found.append(f"{age_attribute} is {known.age_years} on the verified ID")
    late = known.behaviour.huabei_bills_overdue or known.behaviour.current_overdue_fen
    if answers.get("credit_history") in CLEAN_HISTORY and late:
        found.append("credit_history: Huabei records bills paid late or overdue")
    if answers.get("other_installment_plans") == NO_INSTALLMENTS and known.open_installment_plans:
        found.append(
            f"other_installment_plans: {known.open_installment_plans} Huabei installment"
            " plan(s) are running"
        )
    return found


def _same_number(value: Any, expected: int) -> bool:
    try:
        return float(value) == float(expected)
    except (TypeError, ValueError):
        return False


def next_application_ms(last_application_ms: int | None, period_days: int) -> int | None:
    """When the next application is allowed (None: now)."""
    if last_application_ms is None:
        return None
    return last_application_ms + period_days * DAY_MS


def user_reasons(reasons: list[dict[str, Any]], limit: int = USER_REASONS) -> list[dict[str, str]]:
    """The top reasons as an applicant may see them: which factor weighs most, not by how many
    points nor which answer would score higher."""
    out = []
    for reason in reasons[:limit]:
        kind, _, name = str(reason["code"]).partition(":")
        factor = name.lower().replace("_", " ")
        source = "your application" if kind == "CARD" else "how you use Qianbao"
        out.append(
            {
                "code": str(reason["code"]),
                "dimension": str(reason["dimension"]),
                "message": f"{factor} ({source}) is among the main factors holding the score back",
            }
        )
    return out
