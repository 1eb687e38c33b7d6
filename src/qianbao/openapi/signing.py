"""RSA2 (SHA256withRSA, PKCS#1 v1.5) signatures over sorted parameters, as merchants know them.

The content to sign is every parameter except ``sign`` (and, for notifications, ``sign_type``)
with a non-empty value, sorted by name and joined as ``k1=v1&k2=v2`` (raw values, not URL
encoded), in UTF-8. Signatures travel base64-encoded. All cryptography is ``cryptography``'s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048
# DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2): what a PKCS#1 v1.5 signature wraps.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def new_key_pair() -> tuple[str, str]:
    """(private key PEM in PKCS#8, public key PEM in SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private, public_pem_of(private)


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < KEY_BITS:
        raise ValueError(f"an RSA public key of at least {KEY_BITS} bits is required")
    return key


def content_to_sign(params: Mapping[str, str], exclude: tuple[str, ...] = ("sign",)) -> str:
    return "&".join(
        f"{k}={params[k]}"
        for k in sorted(params)
        if k not in exclude and params[k] not in ("", None)
    )


def sign_text(private_pem: str, text: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    raw = key.sign(text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode()


def verify_text(public_pem: str, text: str, signature_b64: str) -> bool:
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        load_public(public_pem).verify(
            raw, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def signed_by_key(public_pem: str, signature_b64: str) -> bool:
    """After a failed verification: was the signature at least made with this key?

    Opening the signature with the public key shows a well-formed PKCS#1 v1.5 SHA-256 block only
    if the matching private key made it; then the content changed after signing. Otherwise the
    wrong key signed. Used only to give the caller a precise error, never to accept anything.
    """
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        numbers = load_public(public_pem).public_numbers()
    except (ValueError, binascii.Error):
        return False
    size = (numbers.n.bit_length() + 7) // 8
    if len(raw) != size:
        return False
    block = pow(int.from_bytes(raw, "big"), numbers.e, numbers.n).to_bytes(size, "big")
    tail = _SHA256_DIGEST_INFO + b"\0" * hashlib.sha256().digest_size
    pad_len = size - len(tail) - 3
    return (
        block[:2] == b"\x00\x01"
        and block[2 : 2 + pad_len] == b"\xff" * pad_len
        and block[2 + pad_len] == 0
        and block[3 + pad_len : 3 + pad_len + 19] == _SHA256_DIGEST_INFO
    )
