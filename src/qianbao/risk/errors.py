"""Risk's error codes (stable: clients match on them)."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import (
    Conflict,
    Forbidden,
    InvalidArgument,
    NotFound,
    QianbaoError,
    Unauthorized,
)


class Code(StrEnum):
    RISK_REJECTED = "RISK_REJECTED"
    RISK_CHALLENGE_REQUIRED = "RISK_CHALLENGE_REQUIRED"
    RISK_APPROVAL_REQUIRED = "RISK_APPROVAL_REQUIRED"
    PARTY_FROZEN = "PARTY_FROZEN"
    CHALLENGE_NOT_FOUND = "CHALLENGE_NOT_FOUND"
    CHALLENGE_EXPIRED = "CHALLENGE_EXPIRED"
    CHALLENGE_FAILED = "CHALLENGE_FAILED"
    CHALLENGE_CLOSED = "CHALLENGE_CLOSED"
    CHALLENGE_WRONG_METHOD = "CHALLENGE_WRONG_METHOD"
    CHALLENGE_CODE_WRONG = "CHALLENGE_CODE_WRONG"
    SAME_OPERATOR = "RISK_SAME_OPERATOR"
    RULES_INVALID = "RISK_RULES_INVALID"
    FREEZE_NOT_FOUND = "FREEZE_NOT_FOUND"
    ALREADY_FROZEN = "ALREADY_FROZEN"
    LIST_ENTRY_INVALID = "RISK_LIST_ENTRY_INVALID"
    CASE_NOT_FOUND = "CASE_NOT_FOUND"
    CASE_LABEL_INVALID = "CASE_LABEL_INVALID"
    DECISION_QUERY_INVALID = "RISK_DECISION_QUERY_INVALID"


class Held(QianbaoError):
    """A refusal that carries what the client needs next (``details``: the challenge id)."""

    def __init__(self, message: str, details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class RiskRejected(Held, Forbidden):
    code = Code.RISK_REJECTED


class ChallengeRequired(Held):
    """The movement waits for the payer's step-up (the payment password again)."""

    code = Code.RISK_CHALLENGE_REQUIRED
    http_status = 428


class ApprovalRequired(Held):
    """A refund above the fund-loss threshold waits for two operators' approval."""

    code = Code.RISK_APPROVAL_REQUIRED
    http_status = 428


class PartyFrozen(Held, Forbidden):
    code = Code.PARTY_FROZEN


class ChallengeNotFound(NotFound):
    code = Code.CHALLENGE_NOT_FOUND


class ChallengeExpired(Conflict):
    code = Code.CHALLENGE_EXPIRED


class ChallengeFailed(Forbidden):
    code = Code.CHALLENGE_FAILED


class ChallengeClosed(Conflict):
    code = Code.CHALLENGE_CLOSED


class ChallengeWrongMethod(Conflict):
    code = Code.CHALLENGE_WRONG_METHOD


class ChallengeCodeWrong(Unauthorized):
    code = Code.CHALLENGE_CODE_WRONG


class SameOperator(Conflict):
    code = Code.SAME_OPERATOR


class RulesInvalid(InvalidArgument):
    code = Code.RULES_INVALID


class FreezeNotFound(NotFound):
    code = Code.FREEZE_NOT_FOUND


class AlreadyFrozen(Conflict):
    code = Code.ALREADY_FROZEN


class ListEntryInvalid(InvalidArgument):
    code = Code.LIST_ENTRY_INVALID


class CaseNotFound(NotFound):
    code = Code.CASE_NOT_FOUND


class CaseLabelInvalid(InvalidArgument):
    code = Code.CASE_LABEL_INVALID


class DecisionQueryInvalid(InvalidArgument):
    code = Code.DECISION_QUERY_INVALID
