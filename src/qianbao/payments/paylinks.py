"""Pay links: the cashier URL of a trade with an unguessable token.

Trade numbers are time-ordered, so anyone could walk them; the cashier page shows a trade only
to its logged-in buyer or to a visitor holding the trade's pay link (the merchant hands it to
the buyer: ``pay_url`` of ``qianbao.trade.create``). The token is an HMAC of the trade number
under the platform's secret key: nothing is stored, the same trade always gets the same link
(so a replayed create returns the same ``pay_url``), and it cannot be computed without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from qianbao.payments import codes
from qianbao.platform.runtime import Platform

TOKEN_CHARS = 32  # 128 bits
PARAM = "k"


def token(p: Platform, trade_id: str) -> str:
    digest = hmac.new(
        p.settings.secret_key.encode(), b"paylink|" + trade_id.encode(), hashlib.sha256
    )
    return digest.hexdigest()[:TOKEN_CHARS]


def valid(p: Platform, trade_id: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(token(p, trade_id), str(given))


def path(p: Platform, trade_id: str) -> str:
    return f"/cashier/t/{trade_id}?{PARAM}={token(p, trade_id)}"


def url(p: Platform, trade_id: str) -> str:
    return codes.public_base_url(p) + path(p, trade_id)
