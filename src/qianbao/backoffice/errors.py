"""The back office's error codes (stable: clients match on them) and the errors that carry them."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument, NotFound, Unauthorized


class Code(StrEnum):
    APPROVAL_NOT_FOUND = "APPROVAL_NOT_FOUND"
    APPROVAL_BY_MAKER = "APPROVAL_BY_MAKER"
    APPROVAL_NOT_PENDING = "APPROVAL_NOT_PENDING"
    APPROVAL_KIND_UNKNOWN = "APPROVAL_KIND_UNKNOWN"
    OTP_REQUIRED = "OTP_REQUIRED"
    OTP_INVALID = "OTP_INVALID"
    OTP_ALREADY_ENROLLED = "OTP_ALREADY_ENROLLED"
    AUDIT_QUERY_INVALID = "AUDIT_QUERY_INVALID"
    ADJUSTMENT_INVALID = "ADJUSTMENT_INVALID"
    REASON_REQUIRED = "REASON_REQUIRED"
    MESSAGE_NOT_FOUND = "MESSAGE_NOT_FOUND"
    PLOT_NOT_FOUND = "PLOT_NOT_FOUND"


class ApprovalNotFound(NotFound):
    code = Code.APPROVAL_NOT_FOUND


class ApprovalByMaker(Forbidden):
    """Maker-checker: the operator who asked may not approve their own request."""

    code = Code.APPROVAL_BY_MAKER


class ApprovalNotPending(Conflict):
    code = Code.APPROVAL_NOT_PENDING


class ApprovalKindUnknown(InvalidArgument):
    code = Code.APPROVAL_KIND_UNKNOWN


class OtpRequired(Unauthorized):
    code = Code.OTP_REQUIRED


class OtpInvalid(Unauthorized):
    code = Code.OTP_INVALID


class OtpAlreadyEnrolled(Conflict):
    code = Code.OTP_ALREADY_ENROLLED


class AuditQueryInvalid(InvalidArgument):
    code = Code.AUDIT_QUERY_INVALID


class AdjustmentInvalid(InvalidArgument):
    code = Code.ADJUSTMENT_INVALID


class ReasonRequired(InvalidArgument):
    """An operator's action on a user, a merchant or the books says why (the audit log keeps it)."""

    code = Code.REASON_REQUIRED


class MessageNotFound(NotFound):
    """No dead message with this id (it may have been requeued already)."""

    code = Code.MESSAGE_NOT_FOUND


class PlotNotFound(NotFound):
    code = Code.PLOT_NOT_FOUND
