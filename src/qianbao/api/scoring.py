"""Credit score endpoints: the application questions, the user's score and its explanation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from qianbao.api.deps import Operator, PlatformDep, UserId
from qianbao.api.models import Body, RequestId
from qianbao.scoring import service as scoring

router = APIRouter(prefix="/api/v1", tags=["credit score"])


class ScoreIn(Body):
    answers: dict[str, str | int | float] = Field(
        description="One answer per attribute of GET /api/v1/score/questions (age comes from the"
        " verified ID)"
    )
    request_id: str = RequestId


@router.get("/score/questions", summary="What a Huabei applicant answers for the scorecard")
def questions(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return scoring.questions(p)


@router.post("/me/score", summary="Score my application (350–950, five dimensions, reasons)")
def apply(body: ScoreIn, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    row = scoring.score_user(
        p, user_id, body.answers, reason="APPLICATION", request_id=body.request_id
    )
    return scoring.user_score(row)


@router.get("/me/score", summary="My latest score, its dimensions and the reasons it is not higher")
def mine(p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return scoring.user_score(scoring.latest(p, user_id))


@router.get("/me/score/history", summary="My scores, newest first, each with its card version")
def my_history(p: PlatformDep, user_id: UserId) -> list[dict[str, Any]]:
    return [scoring.user_score(r) for r in scoring.history(p, user_id)]


@router.get(
    "/ops/score/stability",
    tags=["operations"],
    summary="PSI of the score and each attribute: training data vs recent applicants",
)
def stability(p: PlatformDep, op: Operator, days: int = Query(90, ge=1, le=3650)) -> Any:
    op.require("read")
    return [vars(row) for row in scoring.platform_stability(p, days)]


@router.get("/ops/users/{user_id}/score", tags=["operations"], summary="A user's latest score")
def user_score(user_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require("read")
    return scoring.public_score(scoring.latest(p, user_id))
