"""Operator endpoints of issue 11 ("security and trust"): merchant classification, and (in the
modules beside it) roles, approvals and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from qianbao.api.deps import Operator, PlatformDep
from qianbao.api.models import Body
from qianbao.members import merchant_category

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])


class MerchantCategoryIn(Body):
    category: str = Field(..., max_length=12, description="everyday or medical")


@router.put(
    "/merchants/{merchant_id}/category",
    summary="Classify a merchant (everyday or medical): Huabei purchases take this category",
)
def set_merchant_category(
    merchant_id: str, body: MerchantCategoryIn, p: PlatformDep, op: Operator
) -> dict[str, Any]:
    op.require("write")
    row = merchant_category.set_category(p, merchant_id, body.category)
    return {"merchant_id": row["id"], "category": row["category"]}
