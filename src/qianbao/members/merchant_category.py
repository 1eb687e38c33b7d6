"""What a merchant sells, as the platform classifies it (like a card scheme's MCC).

Huabei lets medical purchases use the whole line above the everyday cap. The category of a
purchase is therefore the merchant's, set by an operator after checking the merchant's licence,
never what the buyer declares (a buyer could otherwise call any purchase "medical")."""

from __future__ import annotations

from qianbao.members import service as members
from qianbao.members.errors import MerchantCategoryInvalid, MerchantNotFound
from qianbao.members.queries import merchants as queries
from qianbao.platform.db import Row
from qianbao.platform.runtime import Platform

MERCHANT_CATEGORIES = ("everyday", "medical")
DEFAULT_CATEGORY = "everyday"


def category_of(merchant: Row) -> str:
    return str(merchant["category"] or DEFAULT_CATEGORY)


def set_category(p: Platform, merchant_id: str, category: str) -> Row:
    """The operator classifies a merchant; payments from now on take the new category."""
    category = category.strip().lower()
    if category not in MERCHANT_CATEGORIES:
        raise MerchantCategoryInvalid(f"category must be one of {MERCHANT_CATEGORIES}")
    with p.global_db.transaction() as tx:
        if not queries.set_category(tx, merchant_id, category):
            raise MerchantNotFound(f"merchant {merchant_id} not found")
    p.merchant_cache.pop(merchant_id, None)
    return members.get_merchant(p, merchant_id)
