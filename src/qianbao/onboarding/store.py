"""Onboarding SQL: applications and merchant logins."""

from __future__ import annotations

from typing import Any

from qianbao.platform.db import Row, Tx


def insert_application(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO merchant_applications (id, application_no, business_name, licence_no,"
        " licence_live, contact_name, contact_phone, contact_email, category, bank_cipher,"
        " bank_token, bank_last4, account_holder, status, reject_reason, merchant_id,"
        " decided_by, submitted_by, created_at_ms, updated_at_ms) VALUES (:id, :application_no,"
        " :business_name, :licence_no, :licence_no, :contact_name, :contact_phone,"
        " :contact_email, :category, :bank_cipher, :bank_token, :bank_last4, :account_holder,"
        " :status, '', '', '', :submitted_by, :now, :now)",
        row,
    )


def live_by_licence(tx: Tx, licence_no: str) -> Row | None:
    return tx.one("SELECT * FROM merchant_applications WHERE licence_live = :l", {"l": licence_no})


def by_id(tx: Tx, application_id: str) -> Row | None:
    return tx.one("SELECT * FROM merchant_applications WHERE id = :id", {"id": application_id})


def by_number(tx: Tx, application_no: str) -> Row | None:
    return tx.one(
        "SELECT * FROM merchant_applications WHERE application_no = :n", {"n": application_no}
    )


def listing(tx: Tx, status: str | None, limit: int) -> list[Row]:
    if status:
        return tx.all(
            "SELECT * FROM merchant_applications WHERE status = :s"
            " ORDER BY created_at_ms DESC, id LIMIT :n",
            {"s": status, "n": limit},
        )
    return tx.all(
        "SELECT * FROM merchant_applications ORDER BY created_at_ms DESC, id LIMIT :n",
        {"n": limit},
    )


def insert_login(tx: Tx, row: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO merchant_logins (merchant_id, email, password_hash, activation_hash,"
        " activation_expires_at_ms, status, created_at_ms, updated_at_ms) VALUES (:merchant_id,"
        " :email, '', :activation_hash, :expires_ms, :status, :now, :now)",
        row,
    )


def login_by_email(tx: Tx, email: str) -> Row | None:
    return tx.one("SELECT * FROM merchant_logins WHERE email = :e", {"e": email})


def login_by_activation(tx: Tx, activation_hash: str) -> Row | None:
    return tx.one(
        "SELECT * FROM merchant_logins WHERE activation_hash = :h", {"h": activation_hash}
    )
