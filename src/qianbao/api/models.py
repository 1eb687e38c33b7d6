"""Request and response bodies. Amounts travel as integer fen (``*_fen``), never as floats."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

RequestId = Field(min_length=1, max_length=64, description="Client idempotency key")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorOut(BaseModel):
    code: str = Field(examples=["BALANCE_NOT_ENOUGH"])
    message: str


class RegisterIn(Body):
    name: str = Field(min_length=2, max_length=60, examples=["张三"])
    id_number: str = Field(min_length=18, max_length=18, description="Resident ID (GB 11643)")
    phone: str = Field(examples=["13800000001"])
    login_password: str = Field(min_length=8, max_length=64)
    pay_password: str = Field(min_length=6, max_length=6, description="6-digit payment password")


class UserOut(BaseModel):
    user_id: str
    name: str
    phone: str
    id_number: str
    kyc_level: int
    password_free_limit_fen: int
    status: str


class LoginIn(Body):
    phone: str
    password: str
    # the device token a former login on this device returned: a known device skips the
    # per-phone login delay (members/throttle.py)
    device_token: str = Field("", max_length=64)
    # the answer to a STEP_UP_REQUIRED new-device challenge: its challenge_id and the SMS code
    challenge_id: str = Field("", max_length=40)
    code: str = Field("", max_length=6)


class LoginOut(BaseModel):
    token: str
    user: UserOut
    session_id: str = ""
    device_token: str = ""


class CardIn(Body):
    card_no: str = Field(min_length=12, max_length=23)
    channel: str = "SIMBANK"


class CardOut(BaseModel):
    card_id: str
    channel: str
    card: str


class BalanceOut(BaseModel):
    balance_fen: int
    frozen_fen: int
    available_fen: int


class StatementLine(BaseModel):
    posting_id: int
    amount_fen: int
    balance_after_fen: int
    kind: str
    ref: str
    memo: str
    created_at_ms: int


class TopupIn(Body):
    card_id: str
    amount_fen: StrictInt
    request_id: str = RequestId


class WithdrawIn(TopupIn):
    pay_password: str


class BankOrderOut(BaseModel):
    order_id: str
    kind: str
    user_id: str
    card_id: str
    amount_fen: int
    fee_fen: int
    status: str
    created_at_ms: int


class TransferIn(Body):
    to_user_id: str | None = None
    to_phone: str | None = None
    amount_fen: StrictInt
    request_id: str = RequestId
    pay_password: str | None = None
    memo: str = Field("", max_length=100)


class TransferOut(BaseModel):
    transfer_id: str
    from_user_id: str
    to_user_id: str
    amount_fen: int
    cross_unit: bool
    memo: str
    status: str
    created_at_ms: int


class PayIn(Body):
    merchant_id: str
    amount_fen: StrictInt
    request_id: str = RequestId
    pay_password: str | None = Field(
        None, description="Required unless amount_fen is within the password-free limit"
    )
    memo: str = Field("", max_length=100)
    funding: Literal["BALANCE", "YUEBAO"] = Field(
        "BALANCE", description="BALANCE (the wallet) or YUEBAO (Yu'e Bao shares)"
    )


class PaymentOut(BaseModel):
    payment_id: str
    payer_id: str
    merchant_id: str
    amount_fen: int
    fee_fen: int
    refunded_fen: int
    memo: str
    status: str
    funding: str = "BALANCE"
    created_at_ms: int


class RefundIn(Body):
    amount_fen: StrictInt
    request_id: str = RequestId
    reason: str = Field("", max_length=100)


class RefundOut(BaseModel):
    refund_id: str
    payment_id: str
    amount_fen: int
    fee_refund_fen: int
    reason: str
    status: str
    created_at_ms: int


class PasswordFreeIn(Body):
    limit_fen: StrictInt
    pay_password: str
