"""Request dependencies: the platform and who is calling (user token, merchant or operator key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qianbao.members import service as members
from qianbao.members.errors import PermissionDenied
from qianbao.members.sessions import Client
from qianbao.platform.errors import Unauthorized
from qianbao.platform.runtime import Platform

bearer = HTTPBearer(auto_error=False, description="A user token (ut_…) or an API key (mk_…/ok_…)")


# Dependencies are ``async``: they do one indexed read, cheaper on the event loop than a hop to
# the thread pool, and they leave the pool to the sync endpoints.
async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _secret(creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing Authorization: Bearer header")  # the base code: UNAUTHORIZED
    return creds.credentials


async def current_user(p: PlatformDep, creds: Credentials) -> str:
    secret = _secret(creds)
    if not secret.startswith("ut_"):
        raise PermissionDenied("this endpoint is for users")
    return members.user_for_token(p, secret)


async def current_merchant(p: PlatformDep, creds: Credentials) -> str:
    principal = members.principal_for_key(p, _secret(creds))
    if principal.kind != "merchant":
        raise PermissionDenied("this endpoint is for merchants")
    return principal.id


async def current_operator(p: PlatformDep, creds: Credentials) -> members.Principal:
    principal = members.principal_for_key(p, _secret(creds))
    if principal.kind != "operator":
        raise PermissionDenied("this endpoint is for operators")
    return principal


UserId = Annotated[str, Depends(current_user)]
MerchantId = Annotated[str, Depends(current_merchant)]
Operator = Annotated[members.Principal, Depends(current_operator)]


def client_of(
    request: Request, device_token: str = "", challenge_id: str = "", code: str = ""
) -> Client:
    """Who is logging in, for the throttle and the session list: the peer address (the access
    layer is the edge; behind a proxy, configure it to pass the client's address as the peer)
    and the user agent."""
    return Client(
        ip=request.client.host if request.client else "",
        agent=request.headers.get("user-agent", ""),
        device_token=device_token,
        challenge_id=challenge_id,
        code=code,
    )
