"""The door: the one pure-ASGI layer every HTTP request of the API and the pages passes, in this
order (each step is its own module's):

0. the body cap (``api/body_cap.py``): a declared body over the cap is refused at once, an
   undeclared one as soon as it passes it;
1. flow control (``api/flow.py``, ADR 0940): the in-flight bound and the limits per address,
   caller and route, before routing or reading the body; a refusal is answered at once;
2. the request's risk context (``api/risk.py``: device, client IP, agent, location), set for
   the request's task and the threads it uses;
3. observation (``api/observe.py``): the request id (the response carries it back), the
   request's log context, the latency histogram and the access line;
4. page security (``api/security.py``): the security headers of every response, the CSRF cookie
   and token of pages;
5. the operators' audit (``api/ops_audit.py``): every request to an operator endpoint or page.

Then the hot routes (``api/hot.py``) are served directly, everything else by the FastAPI stack.
One layer instead of five stacked middlewares: one call, one wrapper of ``send``, the headers
read once.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qianbao.api import body_cap, observe, ops_audit
from qianbao.api.errors import RequestTooLarge
from qianbao.api.flow import EXEMPT, FlowGate, rejected
from qianbao.api.hot import HotRoute
from qianbao.api.risk import ContextReader
from qianbao.api.security import PageSecurity
from qianbao.money_movement.context import use
from qianbao.platform.errors import QianbaoError
from qianbao.platform.logs import REQUEST_INFO
from qianbao.platform.runtime import Platform


class Door:
    def __init__(
        self,
        app: ASGIApp,
        platform: Platform,
        trusted_proxies: tuple[str, ...] = (),
        hot: tuple[HotRoute, ...] = (),
    ) -> None:
        self.app = app
        self.platform = platform
        self.gate = FlowGate(platform)
        self.context = ContextReader(trusted_proxies)
        self.security = PageSecurity(platform.settings)
        self.log_requests = platform.settings.log_requests
        self.hot = {route.key: route for route in hot}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        try:
            if body_cap.declared_over(headers):
                raise body_cap.too_large()
        except QianbaoError as exc:
            await rejected(exc)(scope, receive, send)
            return
        cap = None if b"content-length" in headers else body_cap.Cap(receive)
        gated = scope["path"] not in EXEMPT
        if gated:
            refusal = self.gate.admit(scope, headers)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        try:
            with use(self.context.encoded(scope, headers)):
                await self._observed(scope, receive, send, headers, cap)
        finally:
            if gated:
                self.gate.leave()

    async def _observed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        cap: body_cap.Cap | None,
    ) -> None:
        request_id = observe.request_id(headers)
        info: dict[str, Any] = {"request_id": request_id}
        token = REQUEST_INFO.set(info)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        kind, fresh = self.security.prepare(scope)
        extra = ((b"x-request-id", request_id.encode()),)
        status = 0  # none sent yet
        started = time.perf_counter()

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.security.decorate(message, kind, fresh, extra)
            await send(message)

        app_send = answer if cap is None else cap.guard(scope, answer)
        app_receive = receive if cap is None else cap.receive
        try:
            hot = self.hot.get((scope["method"], scope["path"]))
            if hot is None:
                await self.app(scope, app_receive, app_send)
            else:
                await hot(scope, app_receive, app_send, self.app)
        except RequestTooLarge:
            if cap is None or not cap.over:
                raise
            await app_send({"type": "http.response.start", "status": 413})  # the guard's 413
        finally:
            status = status or 500  # nothing sent: the server's error middleware answers 500
            if ops_audit.audited(scope["path"]):
                await ops_audit.record(self.platform, scope, status)
            took_s = time.perf_counter() - started
            observe.observe(scope, info, status, took_s, self.log_requests)
            REQUEST_INFO.reset(token)
            structlog.contextvars.clear_contextvars()
