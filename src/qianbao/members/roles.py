"""Operators' roles as a permission table: least privilege (issue 11 item 7).

An endpoint names the permission it needs (``Principal.require``); a role is the set of
permissions it holds, nothing more. Money-moving operator actions are not permissions to act but
to *propose* (``propose.<kind>``) and to *approve* (``approve.<kind>``): the maker-checker of
``backoffice/approvals.py`` runs the action only when a second operator, who may approve that
kind, approves it. ``write`` remains the permission of what only an admin may do."""

from __future__ import annotations

READ = "read"  # users, balances, accounts, reports, scores (not the audit log)
AUDIT = "audit.read"
JOBS = "jobs.run"  # day close, Huabei day-end, settlement run, reconciliation, bank follow-up
CREDIT = "credit.write"  # freeze and thaw a user's Huabei
MERCHANTS = "merchants.write"  # settlement cycle, category, review of merchant applications
ONBOARD = "merchants.onboard"  # submit merchant applications (a partner onboarding in bulk)
SUPPORT = "support.write"  # dispute decisions, notifications sent again
WRITE = "write"  # everything else that changes data (admin only)
KINDS = ("compensation", "suspense", "redrive", "credit_line", "adjustment")


def propose(kind: str) -> str:
    return f"propose.{kind}"


def approve(kind: str) -> str:
    return f"approve.{kind}"


_FINANCE_KINDS = ("compensation", "suspense", "redrive", "adjustment")
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {READ, AUDIT, JOBS, CREDIT, MERCHANTS, ONBOARD, SUPPORT, WRITE}
        | {propose(k) for k in KINDS}
        | {approve(k) for k in KINDS}
    ),
    "risk": frozenset({READ, CREDIT, MERCHANTS, propose("credit_line"), approve("credit_line")}),
    "finance": frozenset(
        {READ, JOBS} | {propose(k) for k in _FINANCE_KINDS} | {approve(k) for k in _FINANCE_KINDS}
    ),
    "support": frozenset({READ, SUPPORT, propose("compensation")}),
    "auditor": frozenset({READ, AUDIT}),
    # a partner that onboards merchants in bulk: submits applications, reads its own, no more
    "partner": frozenset({ONBOARD}),
}


def permissions(role: str) -> frozenset[str]:
    return ROLES.get(role, frozenset())
