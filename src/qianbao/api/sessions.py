"""Sessions and API keys: log out, list and revoke one's sessions, operators revoke a user's;
merchants and operators list, rotate (with an overlap window) and revoke their API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from qianbao.api.deps import Credentials, MerchantId, Operator, PlatformDep, UserId
from qianbao.api.models import Body
from qianbao.members import credentials, sessions, stepup
from qianbao.members import service as members
from qianbao.platform.errors import Unauthorized

router = APIRouter(prefix="/api/v1", tags=["sessions and keys"])
SessionIdPath = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^ss_[0-9a-f]{1,21}$")]
KeyIdPath = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[mo]k_[0-9a-f]{1,37}$")]
UserIdPath = Annotated[str, Path(min_length=1, max_length=40)]


class SessionOut(BaseModel):
    session_id: str
    created_at_ms: int
    expires_at_ms: int
    client: str
    ip: str
    current: bool


class RevokedOut(BaseModel):
    revoked: int = Field(description="how many live sessions this call ended (0 on a replay)")


class SessionRevokedOut(BaseModel):
    session_id: str
    revoked: bool
    changed: bool


class KeyOut(BaseModel):
    key_id: str
    status: str = Field(examples=["ACTIVE", "RETIRING", "EXPIRED", "REVOKED"])
    created_at_ms: int
    expires_at_ms: int | None
    revoked_at_ms: int | None


class RotateIn(Body):
    overlap_minutes: int | None = Field(
        None, ge=0, le=credentials.OVERLAP_MAX_MINUTES, description="default: the setting (24 h)"
    )


class RotateOut(BaseModel):
    api_key: str = Field(description="the new key, shown once")
    key_id: str
    retiring: list[str]
    retiring_until_ms: int | None


class StepUpIn(Body):
    challenge_id: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class StepUpOut(BaseModel):
    challenge_id: str
    purpose: str = Field(examples=list(stepup.PURPOSES))
    granted_until_ms: int


def _token(creds: Credentials) -> str:
    if creds is None or not creds.credentials.startswith(sessions.TOKEN_PREFIX):
        raise Unauthorized("a user token is required")
    return creds.credentials


Token = Annotated[str, Depends(_token)]


# --- a user's sessions ------------------------------------------------------------------------
@router.delete("/sessions/current", response_model=RevokedOut, summary="Log out")
def log_out(p: PlatformDep, user_id: UserId, token: Token) -> dict[str, int]:
    return {"revoked": sessions.log_out(p, token)}


@router.get("/me/sessions", response_model=list[SessionOut], summary="My live sessions")
def my_sessions(p: PlatformDep, user_id: UserId, token: Token) -> list[dict[str, Any]]:
    return sessions.list_sessions(p, user_id, token)


@router.delete(
    "/me/sessions/{session_id}", response_model=SessionRevokedOut, summary="End one session"
)
def end_session(session_id: SessionIdPath, p: PlatformDep, user_id: UserId) -> dict[str, Any]:
    return sessions.revoke_one(p, user_id, session_id)


@router.delete("/me/sessions", response_model=RevokedOut, summary="Log out everywhere")
def end_all_sessions(p: PlatformDep, user_id: UserId) -> dict[str, int]:
    return {"revoked": sessions.revoke(p, user_id, None, "user")}


@router.get(
    "/ops/users/{user_id}/sessions",
    response_model=list[SessionOut],
    summary="A user's live sessions (operator)",
)
def user_sessions(user_id: UserIdPath, p: PlatformDep, op: Operator) -> list[dict[str, Any]]:
    op.require("read")
    members.get_user(p, user_id)
    return sessions.list_sessions(p, user_id)


@router.post(
    "/ops/users/{user_id}/sessions/revoke",
    response_model=RevokedOut,
    summary="End every session of a user (operator)",
)
def revoke_user_sessions(user_id: UserIdPath, p: PlatformDep, op: Operator) -> dict[str, int]:
    op.require("write")
    members.get_user(p, user_id)
    return {"revoked": sessions.revoke(p, user_id, None, f"operator {op.id}")}


@router.post(
    "/me/step-up",
    response_model=StepUpOut,
    summary="Answer a STEP_UP_REQUIRED challenge with the SMS code (grants that action once)",
)
def step_up(body: StepUpIn, p: PlatformDep, user_id: UserId) -> dict[str, object]:
    return stepup.grant(p, user_id, body.challenge_id, body.code)


# --- API keys ---------------------------------------------------------------------------------
@router.get("/merchant/keys", response_model=list[KeyOut], summary="The merchant's API keys")
def merchant_keys(p: PlatformDep, merchant_id: MerchantId) -> list[dict[str, Any]]:
    return credentials.list_keys(p, "merchant", merchant_id)


@router.post(
    "/merchant/keys/rotate",
    response_model=RotateOut,
    summary="A new API key; the current ones keep working for the overlap window",
)
def rotate_merchant_key(body: RotateIn, p: PlatformDep, merchant_id: MerchantId) -> dict[str, Any]:
    return credentials.rotate(p, "merchant", merchant_id, body.overlap_minutes)


@router.delete("/merchant/keys/{key_id}", response_model=KeyOut, summary="Revoke a key now")
def revoke_merchant_key(key_id: KeyIdPath, p: PlatformDep, merchant_id: MerchantId) -> Any:
    return credentials.revoke(p, "merchant", merchant_id, key_id)


@router.get("/ops/keys", response_model=list[KeyOut], summary="The operator's own API keys")
def operator_keys(p: PlatformDep, op: Operator) -> list[dict[str, Any]]:
    return credentials.list_keys(p, "operator", op.id)


@router.post("/ops/keys/rotate", response_model=RotateOut, summary="A new own API key")
def rotate_operator_key(body: RotateIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    return credentials.rotate(p, "operator", op.id, body.overlap_minutes)


@router.delete("/ops/keys/{key_id}", response_model=KeyOut, summary="Revoke an own key now")
def revoke_operator_key(key_id: KeyIdPath, p: PlatformDep, op: Operator) -> Any:
    return credentials.revoke(p, "operator", op.id, key_id)


@router.delete(
    "/ops/api-keys/{key_id}",
    response_model=KeyOut,
    summary="Revoke any merchant's or operator's key now (a leaked key)",
)
def revoke_any_key(key_id: KeyIdPath, p: PlatformDep, op: Operator) -> Any:
    op.require("write")
    return credentials.revoke_any(p, key_id)
