"""Bank channels' error codes (stable: clients match on them) and the errors that carry them.

``ChannelTimeout`` and ``CardRejected`` (the channel interface's own errors) live in
``channels/base.py`` and take their codes from this enum."""

from __future__ import annotations

from enum import StrEnum

from qianbao.platform.errors import Conflict, InvalidArgument, NotFound


class Code(StrEnum):
    DAY_NOT_OVER = "DAY_NOT_OVER"
    CHANNEL_NOT_FOUND = "CHANNEL_NOT_FOUND"
    RECON_NOT_FOUND = "RECON_NOT_FOUND"
    REQUEST_NOT_FOUND = "REQUEST_NOT_FOUND"
    NOT_A_PAYOUT = "NOT_A_PAYOUT"
    BANK_ORDER_NOT_REDRIVEN = "BANK_ORDER_NOT_REDRIVEN"
    PAYOUT_ALREADY_PAID = "PAYOUT_ALREADY_PAID"
    NOT_AT_BANK = "NOT_AT_BANK"
    DIFFERENCE_NOT_FOUND = "DIFFERENCE_NOT_FOUND"
    DIFFERENCE_NEEDS_BOOKING = "DIFFERENCE_NEEDS_BOOKING"
    DIFFERENCE_ALREADY_NOTED = "DIFFERENCE_ALREADY_NOTED"
    CHANNEL_TIMEOUT = "CHANNEL_TIMEOUT"
    CARD_REJECTED = "CARD_REJECTED"
    BANK_UNAVAILABLE = "BANK_UNAVAILABLE"


class DayNotOver(InvalidArgument):
    code = Code.DAY_NOT_OVER


class ChannelNotFound(NotFound):
    code = Code.CHANNEL_NOT_FOUND


class ReconNotFound(NotFound):
    code = Code.RECON_NOT_FOUND


class RequestNotFound(NotFound):
    code = Code.REQUEST_NOT_FOUND


class NotAPayout(InvalidArgument):
    code = Code.NOT_A_PAYOUT


class BankOrderNotRedriven(InvalidArgument):
    code = Code.BANK_ORDER_NOT_REDRIVEN


class PayoutAlreadyPaid(Conflict):
    code = Code.PAYOUT_ALREADY_PAID


class NotAtBank(Conflict):
    code = Code.NOT_AT_BANK


class DifferenceNotFound(NotFound):
    code = Code.DIFFERENCE_NOT_FOUND


class DifferenceNeedsBooking(InvalidArgument):
    """A BANK_ONLY line is money at the bank: it is booked to suspense (on approval), not noted."""

    code = Code.DIFFERENCE_NEEDS_BOOKING


class DifferenceAlreadyNoted(Conflict):
    code = Code.DIFFERENCE_ALREADY_NOTED
