"""Builders for onboarding tests: a valid application form, numbered so each is unique."""

from __future__ import annotations

import itertools
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from qianbao.members.identity import make_card_no
from qianbao.onboarding.checks import ApplicationForm, credit_code_check_char

MERCHANT_PASSWORD = "shop2026pass"
_seq = itertools.count(1)


def licence(n: int) -> str:
    first17 = f"9133010{n:010d}"
    return first17 + credit_code_check_char(first17)


def form_values(**over: str) -> dict[str, str]:
    n = next(_seq)
    values = {
        "business_name": f"入驻测试商户 Shop {n}",
        "licence_no": licence(n),
        "contact_name": "王芳",
        "contact_phone": f"139{n:08d}",
        "contact_email": f"owner{n}@shop.example",
        "bank_account_no": make_card_no(f"6217{n:011d}"),
        "account_holder": f"入驻测试商户 Shop {n}",
        "category": "everyday",
    }
    values.update(over)
    return values


def form(**over: str) -> ApplicationForm:
    return ApplicationForm(**form_values(**over))


def public_pem(bits: int = 2048) -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, pem.decode()


def private_pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def ec_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
