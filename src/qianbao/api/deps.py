"""Request dependencies: the platform and who is calling (user token, merchant or operator key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qianbao.members import service as members
from qianbao.members.errors import PermissionDenied
from qianbao.platform.errors import Unauthorized
from qianbao.platform.logs import note
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
    user_id = members.user_for_token(p, secret)
    note(caller=user_id, unit=p.unit_of(user_id))
    return user_id


async def current_merchant(p: PlatformDep, creds: Credentials) -> str:
    principal = members.principal_for_key(p, _secret(creds))
    if principal.kind != "merchant":
        raise PermissionDenied("this endpoint is for merchants")
    note(caller=principal.id, unit=p.unit_of(principal.id))
    return principal.id


async def current_operator(p: PlatformDep, creds: Credentials) -> members.Principal:
    principal = members.principal_for_key(p, _secret(creds))
    if principal.kind != "operator":
        raise PermissionDenied("this endpoint is for operators")
    note(caller=principal.id)
    return principal


UserId = Annotated[str, Depends(current_user)]
MerchantId = Annotated[str, Depends(current_merchant)]
Operator = Annotated[members.Principal, Depends(current_operator)]
