"""``POST /gateway.do``: the open platform's one endpoint (form-encoded, RSA2-signed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from qianbao.api.deps import PlatformDep
from qianbao.api.errors import RequestTooLarge
from qianbao.openapi import gateway

router = APIRouter(tags=["open platform"])
BODY_MAX_BYTES = 64 * 1024


@router.post(
    "/gateway.do",
    summary="Open-platform gateway (app_id, method, biz_content, RSA2 sign)",
    description="Form-encoded parameters `app_id, method, charset=utf-8, sign_type=RSA2, "
    "timestamp, version=1.0, biz_content, sign` (+ `notify_url`), signed with SHA256withRSA "
    "over the sorted `k=v&…` of every non-empty parameter except `sign`. The response is "
    '`{"<method>_response": {"code": "10000", ...}, "sign": "..."}`, signed by the platform '
    "over the exact JSON text of the `<method>_response` value. See docs/openapi-gateway.md.",
)
async def gateway_do(request: Request, p: PlatformDep) -> Response:
    if int(request.headers.get("content-length") or 0) > BODY_MAX_BYTES:
        raise RequestTooLarge("request too large")
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    for key, value in request.query_params.items():  # SDKs often put the envelope in the URL
        params.setdefault(key, value)
    reply = await run_in_threadpool(gateway.handle, p, params)  # services block on writers
    return Response(reply.render(), media_type="application/json; charset=utf-8")
