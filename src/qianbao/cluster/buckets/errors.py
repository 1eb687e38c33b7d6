"""The stable error codes of bucket moves and unit growth (ADR 0935)."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InvalidArgument


class Code(StrEnum):
    BUCKET_INVALID = "BUCKET_INVALID"
    UNIT_INVALID = "UNIT_INVALID"
    BUCKET_ALREADY_THERE = "BUCKET_ALREADY_THERE"
    MOVE_IN_PROGRESS = "MOVE_IN_PROGRESS"
    MOVE_CHECK_FAILED = "MOVE_CHECK_FAILED"
    MOVE_NOT_ABORTABLE = "MOVE_NOT_ABORTABLE"
    HOLDS_ON_MOVED_ACCOUNT = "HOLDS_ON_MOVED_ACCOUNT"


class BucketInvalid(InvalidArgument):
    code = Code.BUCKET_INVALID


class UnitInvalid(InvalidArgument):
    code = Code.UNIT_INVALID


class BucketAlreadyThere(InvalidArgument):
    code = Code.BUCKET_ALREADY_THERE


class MoveInProgress(Conflict):
    code = Code.MOVE_IN_PROGRESS


class MoveCheckFailed(Conflict):
    code = Code.MOVE_CHECK_FAILED


class MoveNotAbortable(Conflict):
    code = Code.MOVE_NOT_ABORTABLE


class HoldsOnMovedAccount(Conflict):
    code = Code.HOLDS_ON_MOVED_ACCOUNT
