"""A small merchant client for the Qianbao open-platform gateway: sign, call, verify.

Needs only ``httpx`` and ``cryptography``. Try it against a running platform:

    qianbao openapi sandbox --json > sandbox.json      # app_id and keys of the demo app
    python examples/merchant_client.py sandbox.json http://127.0.0.1:8000

It precreates a trade (prints the QR content) and queries it.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CHINA = timezone(timedelta(hours=8))


def content_to_sign(params: dict[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    """Every non-empty parameter except ``sign``, sorted by name, as ``k=v&k=v``."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k])


class GatewayClient:
    def __init__(
        self,
        gateway_url: str,
        app_id: str,
        app_private_key_pem: str,
        platform_public_key_pem: str,
        *,
        notify_url: str = "",
        http: httpx.Client | None = None,
    ) -> None:
        self.url = gateway_url
        self.app_id = app_id
        private_key = serialization.load_pem_private_key(app_private_key_pem.encode(), None)
        platform_key = serialization.load_pem_public_key(platform_public_key_pem.encode())
        if not isinstance(private_key, rsa.RSAPrivateKey) or not isinstance(
            platform_key, rsa.RSAPublicKey
        ):
            raise ValueError("RSA keys are required")
        self.private_key, self.platform_key = private_key, platform_key
        self.notify_url = notify_url
        self.http = http or httpx.Client(timeout=10)

    def sign(self, text: str) -> str:
        raw = self.private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def verify(self, text: str, signature: str) -> bool:
        try:
            self.platform_key.verify(
                base64.b64decode(signature),
                text.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def signed_params(
        self, method: str, biz: dict[str, Any], timestamp: datetime | None = None
    ) -> dict[str, str]:
        moment = (timestamp or datetime.now(CHINA)).astimezone(CHINA)
        params = {
            "app_id": self.app_id,
            "method": method,
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False),
        }
        if self.notify_url:
            params["notify_url"] = self.notify_url
        params["sign"] = self.sign(content_to_sign(params))
        return params

    def post(self, params: dict[str, str]) -> dict[str, Any]:
        """POST signed parameters; verify the platform's signature over the exact response text."""
        response = self.http.post(self.url, data=params)
        response.raise_for_status()
        text = response.text
        key = params["method"].replace(".", "_") + "_response"
        body = json.loads(text)
        if key not in body:
            key = "error_response"
        result: dict[str, Any] = body[key]
        if "sign" in body:
            start = text.index('"' + key + '":') + len(key) + 3
            end = text.rindex(',"sign":')
            if not self.verify(text[start:end], body["sign"]):
                raise ValueError("the platform's signature on the response is wrong")
            result["_verified"] = True
        return result

    def call(self, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        return self.post(self.signed_params(method, biz))

    def verify_notification(self, form: dict[str, str]) -> bool:
        """An async notification: signed over every field except ``sign`` and ``sign_type``."""
        text = content_to_sign(form, exclude=("sign", "sign_type"))
        return self.verify(text, form.get("sign", ""))


def main() -> None:
    with open(sys.argv[1]) as f:
        creds = json.load(f)
    base = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8000"
    client = GatewayClient(
        base + "/gateway.do",
        creds["app_id"],
        creds["app_private_key"],
        creds["platform_public_key"],
    )
    out_trade_no = f"demo-{uuid.uuid4().hex[:12]}"
    pre = client.call(
        "qianbao.trade.precreate",
        {
            "out_trade_no": out_trade_no,
            "total_amount": "8.88",
            "subject": "Example coffee",
            "timeout_express": "15m",
        },
    )
    print("precreate:", json.dumps(pre, ensure_ascii=False))
    time.sleep(0.1)
    print(
        "query:",
        json.dumps(
            client.call("qianbao.trade.query", {"out_trade_no": out_trade_no}), ensure_ascii=False
        ),
    )


if __name__ == "__main__":
    main()
