"""Red packets' error codes (stable: clients match on them)."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, Forbidden, InvalidArgument, LimitExceeded, NotFound


class Code(StrEnum):
    RED_PACKET_INVALID = "RED_PACKET_INVALID"
    RED_PACKET_NOT_FOUND = "RED_PACKET_NOT_FOUND"
    RED_PACKET_EMPTY = "RED_PACKET_EMPTY"
    RED_PACKET_EXPIRED = "RED_PACKET_EXPIRED"
    RED_PACKET_NOT_FOR_YOU = "RED_PACKET_NOT_FOR_YOU"
    RED_PACKET_LIMIT_EXCEEDED = "RED_PACKET_LIMIT_EXCEEDED"
    RED_PACKET_DAILY_LIMIT_EXCEEDED = "RED_PACKET_DAILY_LIMIT_EXCEEDED"
    GROUP_INVALID = "GROUP_INVALID"
    GROUP_NOT_FOUND = "GROUP_NOT_FOUND"
    CONCURRENT_UPDATE = "CONCURRENT_UPDATE"


class PacketInvalid(InvalidArgument):
    code = Code.RED_PACKET_INVALID


class PacketNotFound(NotFound):
    code = Code.RED_PACKET_NOT_FOUND


class PacketEmpty(Conflict):
    """Every share is taken (手慢了，红包派完了)."""

    code = Code.RED_PACKET_EMPTY


class PacketExpired(Conflict):
    code = Code.RED_PACKET_EXPIRED


class NotForYou(Forbidden):
    code = Code.RED_PACKET_NOT_FOR_YOU


class PacketLimitExceeded(LimitExceeded):
    code = Code.RED_PACKET_LIMIT_EXCEEDED


class DailyLimitExceeded(LimitExceeded):
    code = Code.RED_PACKET_DAILY_LIMIT_EXCEEDED


class GroupInvalid(InvalidArgument):
    code = Code.GROUP_INVALID


class GroupNotFound(NotFound):
    code = Code.GROUP_NOT_FOUND


class ClaimRaced(Conflict):
    """A guarded write found the share or packet changed (never expected: one writer a unit)."""

    code = Code.CONCURRENT_UPDATE
