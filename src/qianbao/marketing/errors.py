"""Marketing's error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InvalidArgument, NotFound


class Code(StrEnum):
    COUPON_NOT_USABLE = "COUPON_NOT_USABLE"
    CAMPAIGN_INVALID = "CAMPAIGN_INVALID"
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND"
    CAMPAIGN_ENDED = "CAMPAIGN_ENDED"
    CAMPAIGN_NOT_STARTED = "CAMPAIGN_NOT_STARTED"
    COUPON_LIMIT_REACHED = "COUPON_LIMIT_REACHED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"
    RETRY = "RETRY"
    COUPON_NOT_FOUND = "COUPON_NOT_FOUND"
    COUPON_USED = "COUPON_USED"
    COUPON_NOT_STARTED = "COUPON_NOT_STARTED"
    COUPON_EXPIRED = "COUPON_EXPIRED"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    COUPON_MIN_SPEND_NOT_MET = "COUPON_MIN_SPEND_NOT_MET"
    REDUCTION_INVALID = "REDUCTION_INVALID"
    REDUCTION_NOT_FOUND = "REDUCTION_NOT_FOUND"
    REDUCTION_BUDGET_EXHAUSTED = "REDUCTION_BUDGET_EXHAUSTED"


class CouponError(Conflict):
    code = Code.COUPON_NOT_USABLE


class CampaignInvalid(InvalidArgument):
    code = Code.CAMPAIGN_INVALID


class CampaignNotFound(NotFound):
    code = Code.CAMPAIGN_NOT_FOUND


class CampaignEnded(CouponError):
    code = Code.CAMPAIGN_ENDED


class CampaignNotStarted(CouponError):
    code = Code.CAMPAIGN_NOT_STARTED


class CouponLimitReached(CouponError):
    code = Code.COUPON_LIMIT_REACHED


class BudgetExhausted(CouponError):
    code = Code.BUDGET_EXHAUSTED


class IssueRaced(Conflict):
    code = Code.RETRY


class CouponNotFound(NotFound):
    code = Code.COUPON_NOT_FOUND


class CouponUsed(CouponError):
    code = Code.COUPON_USED


class CouponNotStarted(CouponError):
    code = Code.COUPON_NOT_STARTED


class CouponExpired(CouponError):
    code = Code.COUPON_EXPIRED


class CouponNotApplicable(InvalidArgument):
    code = Code.COUPON_NOT_APPLICABLE


class CouponMinSpendNotMet(InvalidArgument):
    code = Code.COUPON_MIN_SPEND_NOT_MET


class ReductionInvalid(InvalidArgument):
    code = Code.REDUCTION_INVALID


class ReductionNotFound(NotFound):
    code = Code.REDUCTION_NOT_FOUND


class ReductionBudgetExhausted(Conflict):
    """The offer's budget in this unit ran out between the cashier and the payment: retry (the
    cashier then finds no offer)."""

    code = Code.REDUCTION_BUDGET_EXHAUSTED
