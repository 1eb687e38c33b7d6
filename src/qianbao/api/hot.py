"""Pre-solved routes: the hot endpoints (a wallet's payment) served by the door (``api/door.py``)
without FastAPI's per-request route matching and dependency solving, by the route's own
endpoint function, body model and response model.

A hot route is built once from its ``APIRoute``, and only if FastAPI would do nothing more for
it than what is done here: an ``async`` endpoint, one JSON body model, no path, query, header or
cookie parameter, no ``Request``/``Response``/background-task parameter, the default response
class and model options, and dependencies made only of the platform, the bearer credentials
and ``async`` functions of those (``deps.current_user``, ``deps.current_merchant``). Anything
else fails at startup, so a changed signature cannot silently skip a dependency.

A request that is not plainly well-formed is handed to the FastAPI route untouched, its body
replayed: a content type other than JSON, an empty body, a body that is not JSON or does not
validate, missing or refused credentials. FastAPI then answers it (and its error) exactly as
without a hot route. So the fast path answers only requests FastAPI would have accepted, and
answers them the same way: the endpoint's errors through the application's exception handlers,
the result validated and dumped by the route's response field.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from qianbao.api import deps
from qianbao.platform.errors import QianbaoError

JSON_TYPE = "application/json"
Handler = Callable[[Request, Exception], Awaitable[Any] | Any]


class NotHot(ValueError):
    """The route needs something the fast path does not do: serve it through FastAPI."""


class _Refused(Exception):
    """This request is for FastAPI to answer (bad body, refused credentials)."""


class HotRoute:
    def __init__(self, route: APIRoute) -> None:
        _check_route(route)
        self.route = route
        self.key = (next(iter(route.methods or ())), route.path)
        self.body_name = route.dependant.body_params[0].name
        self.status = route.status_code or 200

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: Any) -> None:
        """Serve the request, or hand it to ``app`` (the FastAPI stack) with its body."""
        messages, body = await _read_body(receive)
        try:
            if scope["app"].dependency_overrides:
                raise _Refused  # a test's overrides: FastAPI applies them
            values = await self._solve(scope, body)
        except _Refused:
            await app(scope, _replay(messages, receive), send)
            return
        scope.update(route=self.route, endpoint=self.route.endpoint, path_params={})
        try:
            raw = await self.route.endpoint(**values)
        except Exception as exc:
            handler = _handler(scope["app"], exc)
            if handler is None:
                raise  # a bug: the server's error middleware answers 500
            request = Request(scope, _replay(messages, receive))
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:  # as Starlette runs a sync handler
                response = await run_in_threadpool(handler, request, exc)
            await response(scope, receive, send)
            return
        await self._answer(raw, send)

    async def _solve(self, scope: Scope, body: bytes) -> dict[str, Any]:
        if not body or not _is_json(scope):
            raise _Refused
        try:
            data = json.loads(body)
        except ValueError:
            raise _Refused from None
        values = await _dependencies(self.route.dependant, scope)
        field = self.route.body_field
        assert field is not None
        value, errors = field.validate(data, {}, loc=("body",))
        if errors:
            raise _Refused
        values[self.body_name] = value
        return values

    async def _answer(self, raw: Any, send: Send) -> None:
        field = self.route.response_field
        assert field is not None
        value, errors = field.validate(raw, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=raw)
        content = field.serialize_json(value, by_alias=True)
        headers = [
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", JSON_TYPE.encode("latin-1")),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def hot_routes(app: FastAPI, wanted: list[tuple[str, str]]) -> list[HotRoute]:
    """The hot routes of ``app`` for each (method, path) of ``wanted``: the first route that
    matches it, as FastAPI's router would pick it."""
    if app.router.dependencies:
        raise NotHot("the application has dependencies of its own")
    found: list[HotRoute] = []
    for method, path in wanted:
        routes = [r for r in _api_routes(app) if r.path == path and method in (r.methods or ())]
        if not routes:
            raise NotHot(f"no route {method} {path}")
        found.append(HotRoute(routes[0]))
    return found


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of ``app``, in the order they are matched (included routers' in the
    place they were included)."""
    out: list[APIRoute] = []
    for route in app.router.routes:
        if isinstance(route, APIRoute):
            out.append(route)
        original = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if original is not None:
            if context is not None and (context.prefix or context.dependencies):
                continue  # a prefix or dependencies of the include: not served hot
            out += [r for r in original.routes if isinstance(r, APIRoute)]
    return out


def _check_route(route: APIRoute) -> None:
    d = route.dependant
    if len(route.methods or ()) != 1 or not inspect.iscoroutinefunction(route.endpoint):
        raise NotHot(f"{route.path}: one method and an async endpoint")
    if d.path_params or d.query_params or d.header_params or d.cookie_params:
        raise NotHot(f"{route.path}: parameters besides the body")
    if len(d.body_params) != 1 or route._embed_body_fields or route.body_field is None:
        raise NotHot(f"{route.path}: exactly one body model")
    if route.response_field is None or not isinstance(route.response_class, DefaultPlaceholder):
        raise NotHot(f"{route.path}: a response model and the default response class")
    options = (
        route.response_model_include,
        route.response_model_exclude,
        route.response_model_exclude_unset,
        route.response_model_exclude_defaults,
        route.response_model_exclude_none,
    )
    if any(options) or not route.response_model_by_alias or route.dependencies:
        raise NotHot(f"{route.path}: response model options or route dependencies")
    _check_dependant(d, route.path)


def _check_dependant(d: Dependant, path: str) -> None:
    special = (
        d.request_param_name,
        d.websocket_param_name,
        d.http_connection_param_name,
        d.response_param_name,
        d.background_tasks_param_name,
        d.security_scopes_param_name,
    )
    if any(special):
        raise NotHot(f"{path}: a Request, Response or background-task parameter")
    for sub in d.dependencies:
        if sub.call in (deps.get_platform, deps.bearer):
            continue
        if not inspect.iscoroutinefunction(sub.call) or sub.body_params:
            raise NotHot(f"{path}: dependency {sub.call!r} is not an async function")
        if sub.path_params or sub.query_params or sub.header_params or sub.cookie_params:
            raise NotHot(f"{path}: dependency {sub.call!r} takes request parameters")
        _check_dependant(sub, path)


async def _dependencies(d: Dependant, scope: Scope) -> dict[str, Any]:
    """The values of ``d``'s dependencies; a refused credential hands the request to FastAPI
    (which raises the same error again, and maps it)."""
    values: dict[str, Any] = {}
    for sub in d.dependencies:
        assert sub.name is not None
        if sub.call is deps.get_platform:
            values[sub.name] = scope["app"].state.platform
        elif sub.call is deps.bearer:
            values[sub.name] = _credentials(scope)
        else:
            assert sub.call is not None
            try:
                values[sub.name] = await sub.call(**await _dependencies(sub, scope))
            except QianbaoError:
                raise _Refused from None
    return values


def _credentials(scope: Scope) -> HTTPAuthorizationCredentials | None:
    """What ``HTTPBearer(auto_error=False)`` gives: the credentials of a bearer header, or None."""
    authorization = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and credentials) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


def _is_json(scope: Scope) -> bool:
    """``Content-Type: application/json`` (with parameters or not); any other type is left to
    FastAPI's own reading."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower() == JSON_TYPE
    return False


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, b""  # the client went away: FastAPI's reading sees it too
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that gives the messages already read, then the connection's own."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _handler(app: Any, exc: Exception) -> Handler | None:
    """The application's handler for ``exc``, as Starlette's exception middleware finds it
    (by status code for an HTTP exception, then by class); the catch-all ``Exception`` handler
    is the server error middleware's (outside the door), so it is not looked up here."""
    handlers: dict[Any, Handler] = app.exception_handlers
    if isinstance(exc, HTTPException) and exc.status_code != 500 and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
