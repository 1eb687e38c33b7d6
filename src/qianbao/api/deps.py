"""Request dependencies: the platform and who is calling (user token, merchant or operator key)."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qianbao.members import service as members
from qianbao.members.errors import PermissionDenied
from qianbao.members.sessions import Client
from qianbao.platform.errors import Unauthorized
from qianbao.platform.logs import note
from qianbao.platform.runtime import Platform
from qianbao.platform.settings import Settings

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


def client_of(
    request: Request, device_token: str = "", challenge_id: str = "", code: str = ""
) -> Client:
    """Who is logging in, for the throttle and the session list: the client's address (the
    peer, or behind ``trusted_proxies`` the address they saw) and the user agent."""
    settings = request.app.state.platform.settings
    peer = request.client.host if request.client else ""
    return Client(
        ip=client_address(peer, request.headers.get("x-forwarded-for", ""), settings),
        agent=request.headers.get("user-agent", ""),
        device_token=device_token,
        challenge_id=challenge_id,
        code=code,
    )


def client_address(peer: str, forwarded_for: str, settings: Settings) -> str:
    """The peer, unless it is a trusted proxy: then the right-most address of
    ``X-Forwarded-For`` that is not a trusted proxy (the left part is the client's own claim
    and could be forged)."""
    nets = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]

    def trusted(address: str) -> bool:
        try:
            return any(ipaddress.ip_address(address) in net for net in nets)
        except ValueError:
            return False

    if not nets or not trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            return hop[:45]
    return peer


def mark_stale(response: Response, age_s: float | None) -> None:
    """A list served from the stale cache (switch ``activity.stale``) says so and how old."""
    if age_s is not None:
        response.headers["X-Qianbao-Stale"] = f"{age_s:.0f}"


def page_user(p: Platform, token: str | None) -> str | None:
    """The user of a page's login cookie, or None (not logged in, or the session ended)."""
    if not token:
        return None
    try:
        return members.user_for_token(p, token)
    except Unauthorized:
        return None
