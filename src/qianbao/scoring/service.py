"""The score on the platform: the applicant's answers plus behaviour read from our own books,
scored with the active card, stored with the versions that produced it.

The card is the registry's active version under ``<data_dir>/scorecards``; a platform with
none trains one on German Credit the first time it is needed (a few seconds) — `qianbao demo`
does that at set-up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qianbao.members import service as members
from qianbao.members.identity import age_years
from qianbao.platform import idempotency
from qianbao.platform.clock import TZ, clock
from qianbao.platform.controls import SCORE_PAUSED
from qianbao.platform.db import Row, Tx
from qianbao.platform.ids import bucket_of, new_id
from qianbao.platform.runtime import Platform
from qianbao.platform.writer import WriteContext
from qianbao.scoring import guard, ports, registry, store
from qianbao.scoring.behaviour import BehaviourFeatures
from qianbao.scoring.card import Scorecard
from qianbao.scoring.errors import (
    AnswerContradictsRecords,
    ApplicationTooSoon,
    NoApplications,
    NoScore,
    NoTrainingData,
)
from qianbao.scoring.explain import score

DAY_MS = 86_400_000
AGE_ATTRIBUTE = "age_in_years"


def registry_dir(p: Platform) -> Any:
    return p.settings.data_dir / "scorecards"


def active_card(p: Platform) -> Scorecard:
    """The active card, trained on German Credit on first use when the registry is empty."""
    directory = registry_dir(p)
    with p.scorecard_lock:
        if not registry.versions(directory):
            from qianbao.scoring.data import load_german_credit
            from qianbao.scoring.train import german_params

            registry.train_and_register(directory, load_german_credit(), german_params(0))
        version = registry.active_version(directory)
        if version not in p.scorecards:
            p.scorecards[version] = registry.get(directory, version)
        card: Scorecard = p.scorecards[version]
        return card


def questions(p: Platform) -> list[dict[str, Any]]:
    """What an applicant answers: each attribute of the card with its allowed values, and
    the inputs of derived attributes (the card computes those itself)."""
    card = active_card(p)
    plain = {a.name: a for a in card.attributes if not a.formula}
    out = []
    for name in card.inputs:
        a = plain.get(name)
        if a is None:  # only an input of derived attributes (e.g. the instalment rate)
            users = [d for d in card.attributes if name in d.inputs]
            out.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "dimension": users[0].dimension,
                    "used_in": [f"{d.name} = {d.formula_text}" for d in users],
                }
            )
            continue
        item: dict[str, Any] = {"name": a.name, "kind": a.kind, "dimension": a.dimension}
        if a.kind == "categorical":
            item["choices"] = list(a.categories())
        else:
            bounds = [b for b in a.bins if not b.missing]
            item["bins"] = [b.label for b in bounds]
        out.append(item)
    return out


def behaviour_of(p: Platform, user_id: str) -> BehaviourFeatures:
    """Platform behaviour from the ledger's records: account age, how often and how regularly
    the user pays; Huabei repayment history once the credit package records it."""
    user = members.get_user(p, user_id)
    now_ms = clock.now_ms()
    since_ms = now_ms - 180 * DAY_MS
    with p.db_for(user_id).read() as tx:
        moments = [
            int(r["at"])
            for r in tx.all(
                "SELECT created_at_ms AS at FROM payments"
                " WHERE payer_id = :u AND created_at_ms >= :s"
                " UNION ALL SELECT created_at_ms AS at FROM transfers"
                " WHERE from_user_id = :u AND created_at_ms >= :s"
                " UNION ALL SELECT paid_at_ms AS at FROM trades"
                " WHERE buyer_id = :u AND paid_at_ms >= :s",
                {"u": user_id, "s": since_ms},
            )
        ]
    months = {datetime.fromtimestamp(m / 1000, TZ).strftime("%Y-%m") for m in moments}
    history = huabei_history(p, user_id)
    return BehaviourFeatures(
        account_age_days=max(0, (now_ms - int(user["created_at_ms"])) // DAY_MS),
        payments_last_90d=sum(1 for m in moments if m >= now_ms - 90 * DAY_MS),
        active_months_last_6=min(6, len(months)),
        **history,
    )


def huabei_history(p: Platform, user_id: str) -> dict[str, int]:
    """Huabei repayment history from the credit package (zeros without a credit account)."""
    return ports.credit_behaviour(p).repayment_history(p, user_id)


@dataclass(frozen=True, slots=True)
class RecordScore:
    """A computed score stored in the user's unit; a Huabei account takes its interest tier in
    the same transaction. A command as data (its own ``__call__`` is its handler)."""

    row: dict[str, Any]
    given: dict[str, Any]
    request_id: str | None

    def __call__(self, ctx: WriteContext) -> Row:
        row, user_id, reason = self.row, self.row["user_id"], self.row["reason"]
        if self.request_id is not None:
            scope = f"score:{user_id}"
            first = idempotency.claim(ctx.tx, scope, self.request_id, self.given, row["id"])
            if first is not None:
                stored = ctx.tx.one("SELECT * FROM credit_scores WHERE id = :id", {"id": first})
                assert stored is not None
                return stored
        if reason == "APPLICATION":
            period_days = ctx.platform.settings.score_application_period_days
            _refuse_too_soon(ctx.tx, user_id, period_days)
        ctx.tx.execute(
            "INSERT INTO credit_scores (id, user_id, score, card_version, behaviour_version,"
            " reason, answers, result, created_at_ms) VALUES (:id, :user_id, :score,"
            " :card_version, :behaviour_version, :reason, :answers, :result, :created_at_ms)",
            row,
        )
        ports.credit_behaviour(ctx.platform).on_new_score(
            ctx, user_id, row["score"], f"card {row['card_version']}", f"score:{reason}"[:60]
        )
        return row


def score_user(
    p: Platform,
    user_id: str,
    answers: dict[str, Any],
    *,
    reason: str,
    request_id: str | None = None,
) -> Row:
    """Score ``answers`` plus behaviour with the active card and store the result. What the
    platform knows for certain (the age on the verified ID) replaces the applicant's answer.
    With ``request_id`` a repeated application returns the first score. An application
    (``reason="APPLICATION"``) whose answers contradict the records, or that comes within
    ``score_application_period_days`` of the last one, is refused (``scoring/guard.py``)."""
    p.controls.refuse_if_on(SCORE_PAUSED)
    card = active_card(p)
    user = members.get_user(p, user_id)
    given = dict(answers)
    behaviour = behaviour_of(p, user_id)
    age = age_years(members.birth_date_of(user), clock.today())
    if reason == "APPLICATION":
        _refuse_contradictions(p, user_id, given, age, behaviour)
    answers = {**answers, AGE_ATTRIBUTE: age}
    result = score(card, answers, behaviour, strict=True)
    score_id = new_id(bucket_of(user_id))
    row = {
        "id": score_id,
        "user_id": user_id,
        "score": result.score,
        "card_version": card.version,
        "behaviour_version": result.behaviour_version or "",
        "reason": reason,
        "answers": json.dumps(answers, sort_keys=True, ensure_ascii=False),
        "result": json.dumps(result.to_dict(), sort_keys=True, ensure_ascii=False),
        "created_at_ms": clock.now_ms(),
    }

    return p.writer_for(user_id).submit(RecordScore(row, given, request_id))


def _refuse_contradictions(
    p: Platform, user_id: str, answers: dict[str, Any], age: int, behaviour: BehaviourFeatures
) -> None:
    plans = ports.credit_behaviour(p).open_installment_plans(p, user_id)
    found = guard.contradictions(answers, guard.Known(age, behaviour, plans), AGE_ATTRIBUTE)
    if found:
        raise AnswerContradictsRecords("answers contradict our records: " + "; ".join(found))


def _refuse_too_soon(tx: Tx, user_id: str, period_days: int) -> None:
    """Inside the user's unit command, so two concurrent applications cannot both pass."""
    allowed_ms = guard.next_application_ms(store.last_application_ms(tx, user_id), period_days)
    if allowed_ms is not None and clock.now_ms() < allowed_ms:
        when = datetime.fromtimestamp(allowed_ms / 1000, TZ).date().isoformat()
        raise ApplicationTooSoon(
            f"one credit application per {period_days} days: the next one from {when}"
        )


def history(p: Platform, user_id: str, limit: int = 20) -> list[Row]:
    with p.db_for(user_id).read() as tx:
        return tx.all(
            "SELECT * FROM credit_scores WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
            " LIMIT :l",
            {"u": user_id, "l": limit},
        )


def latest(p: Platform, user_id: str) -> Row:
    rows = history(p, user_id, 1)
    if not rows:
        raise NoScore("no credit score yet: answer the application first")
    return rows[0]


def latest_score(p: Platform, user_id: str) -> int | None:
    """The score provider of Huabei: the user's latest score, if any."""
    with p.db_for(user_id).read() as tx:
        return latest_score_in(tx, user_id)


def latest_score_in(tx: Tx, user_id: str) -> int | None:
    """The latest score inside a unit command (the user's unit)."""
    value = tx.scalar(
        "SELECT score FROM credit_scores WHERE user_id = :u ORDER BY created_at_ms DESC, id DESC"
        " LIMIT 1",
        {"u": user_id},
    )
    return None if value is None else int(value)


def rescore_scored(p: Platform, user_ids: list[str]) -> int:
    """Periodic re-scoring before line reviews: each user who applied with a score gets a fresh
    one (same answers, today's behaviour). Returns how many were re-scored; none while the
    ``score.refresh.paused`` switch is on (the next run after it catches up)."""
    if p.controls.switch_on(SCORE_PAUSED):
        return 0
    done = 0
    for user_id in user_ids:
        if latest_score(p, user_id) is not None:
            rescore(p, user_id)
            done += 1
    return done


def rescore(p: Platform, user_id: str) -> Row:
    """Score again with the stored answers and today's behaviour (periodic re-scoring)."""
    answers = json.loads(latest(p, user_id)["answers"])
    return score_user(p, user_id, answers, reason="RESCORE")


def public_score(row: Row) -> dict[str, Any]:
    result = json.loads(row["result"])
    return {
        "score_id": row["id"],
        "score": row["score"],
        "card_version": row["card_version"],
        "behaviour_version": row["behaviour_version"],
        "reason": row["reason"],
        "created_at_ms": row["created_at_ms"],
        "dimensions": result["dimensions"],
        "reasons": result["reasons"],
        "points_by_attribute": result["points_by_attribute"],
        "behaviour_points": result["behaviour_points"],
    }


def user_score(row: Row) -> dict[str, Any]:
    """The applicant's own view: the score, its five dimensions and the top reasons in words;
    not the points table (``public_score`` is the operator's view)."""
    result = json.loads(row["result"])
    return {
        "score_id": row["id"],
        "score": row["score"],
        "card_version": row["card_version"],
        "behaviour_version": row["behaviour_version"],
        "reason": row["reason"],
        "created_at_ms": row["created_at_ms"],
        "dimensions": result["dimensions"],
        "reasons": guard.user_reasons(result["reasons"]),
    }


def recent_applications(p: Platform, days: int = 90) -> list[dict[str, Any]]:
    """The answers of every application scored in the last ``days`` (all units)."""
    since_ms = clock.now_ms() - days * DAY_MS
    answers: list[dict[str, Any]] = []
    for db in p.units:
        with db.read() as tx:
            answers += [
                json.loads(r["answers"])
                for r in tx.all(
                    "SELECT answers FROM credit_scores WHERE reason = 'APPLICATION'"
                    " AND created_at_ms >= :s",
                    {"s": since_ms},
                )
            ]
    return answers


def platform_stability(p: Platform, days: int = 90) -> list[Any]:
    """PSI of the score and of each attribute: the card's training data against the
    platform's recent applicants (needs the card's training data: German Credit here)."""
    import pandas as pd

    from qianbao.scoring.data import load_german_credit
    from qianbao.scoring.psi import stability_report

    card = active_card(p)
    training = load_german_credit()
    if training.fingerprint != card.data.get("fingerprint"):
        raise NoTrainingData("the active card was not trained on German Credit")
    recent = recent_applications(p, days)
    if not recent:
        raise NoApplications(f"no applications in the last {days} days")
    return stability_report(card, training.frame, pd.DataFrame(recent))


def write_platform_report(p: Platform, out_dir: Any, days: int = 90) -> Any:
    """The analyst's page for the active card with PSI against recent applicants."""
    from qianbao.scoring.report import write_report

    stability = platform_stability(p, days)
    return write_report(
        out_dir, active_card(p), None, None, stability, f"Qianbao applicants, last {days} days"
    )
