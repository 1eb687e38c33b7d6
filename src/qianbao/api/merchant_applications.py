"""Merchant onboarding over JSON: a merchant applies and looks up its application (no key), and
partners who onboard merchants in bulk submit many at once with an operator key of role
``partner`` (``roles.ONBOARD``); operators with ``roles.MERCHANTS`` list, read, approve and
reject. Everything under ``/api/v1/ops/`` is written to the audit log by ``AuditMiddleware``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from qianbao.api.deps import Operator, PlatformDep
from qianbao.api.models import Body
from qianbao.members import roles
from qianbao.members.errors import PermissionDenied
from qianbao.onboarding import applications
from qianbao.onboarding.checks import ApplicationForm
from qianbao.onboarding.errors import BatchTooLarge
from qianbao.platform.errors import QianbaoError

router = APIRouter(prefix="/api/v1", tags=["merchant onboarding"])
BATCH_MAX = 100
LICENCE_EXAMPLE = "91330106MA27XW5K1F"


class ApplicationIn(Body):
    business_name: str = Field(max_length=200, examples=["西湖咖啡 West Lake Coffee"])
    licence_no: str = Field(
        max_length=200,
        description="unified social credit code (18 characters, checked)",
        examples=[LICENCE_EXAMPLE],
    )
    contact_name: str = Field(max_length=200, examples=["王芳"])
    contact_phone: str = Field(max_length=200, examples=["13912345678"])
    contact_email: str = Field(max_length=200, examples=["owner@westlake-coffee.example"])
    bank_account_no: str = Field(
        max_length=200, description="12–19 digits, Luhn-checked", examples=["6222020000000010009"]
    )
    account_holder: str = Field(max_length=200, examples=["西湖咖啡 West Lake Coffee"])
    category: str = Field("everyday", max_length=200, examples=["everyday"])

    def form(self) -> ApplicationForm:
        return ApplicationForm(**self.model_dump())


class LookupIn(Body):
    application_no: str = Field(max_length=40, examples=["MA2026120212345678"])
    contact_phone: str = Field(max_length=20, examples=["13912345678"])


class BatchIn(Body):
    applications: list[ApplicationIn] = Field(
        min_length=1, description=f"at most {BATCH_MAX} applications"
    )


class RejectIn(Body):
    reason: str = Field(max_length=400, examples=["licence photo unreadable, please apply again"])


@router.post(
    "/merchant-applications",
    status_code=201,
    summary="Apply to become a merchant (no key; the same form again returns the same application)",
)
def apply(body: ApplicationIn, p: PlatformDep) -> dict[str, Any]:
    return applications.applicant_view(applications.submit(p, body.form()))


@router.post(
    "/merchant-applications/lookup", summary="An application's status, by number and phone"
)
def lookup(body: LookupIn, p: PlatformDep) -> dict[str, Any]:
    row = applications.status_for_applicant(p, body.application_no, body.contact_phone)
    return applications.applicant_view(row)


def _may_submit(op: Any) -> None:
    allowed = roles.permissions(op.role)
    if roles.ONBOARD not in allowed and roles.MERCHANTS not in allowed:
        raise PermissionDenied(f"role {op.role!r} may not {roles.ONBOARD}")


@router.post(
    "/ops/merchant-applications",
    summary="Submit merchant applications in bulk (partner or operator)",
    description="Each item is answered in order: the application, or its own `{code, message}`"
    " error (the others are still submitted). A licence with a live application answers that"
    " application when the form is the same, `APPLICATION_EXISTS` otherwise.",
)
def submit_batch(body: BatchIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    _may_submit(op)
    if len(body.applications) > BATCH_MAX:
        raise BatchTooLarge(f"at most {BATCH_MAX} applications per request")
    results: list[dict[str, Any]] = []
    for item in body.applications:
        try:
            row = applications.submit(p, item.form(), submitted_by=op.id)
            results.append({"ok": True, "application": applications.public_application(row)})
        except QianbaoError as exc:
            results.append({"ok": False, "error": {"code": str(exc.code), "message": exc.message}})
    return {"results": results, "submitted": sum(1 for r in results if r["ok"])}


@router.get("/ops/merchant-applications", summary="Merchant applications, newest first")
def listing(
    p: PlatformDep, op: Operator, status: str = "", limit: int = 100
) -> list[dict[str, Any]]:
    op.require(roles.MERCHANTS)
    rows = applications.list_applications(p, status[:12], max(1, min(limit, 500)))
    return [applications.public_application(r) for r in rows]


@router.get("/ops/merchant-applications/{application_id}", summary="One application")
def one(application_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    row = applications.get_application(p, application_id)
    if roles.MERCHANTS not in roles.permissions(op.role):
        _may_submit(op)
        if row["submitted_by"] != op.id:  # a partner reads only what it submitted
            raise PermissionDenied("this application was not submitted by you")
    return applications.public_application(row)


@router.post(
    "/ops/merchant-applications/{application_id}/approve",
    summary="Approve: the merchant is created; the activation code is answered this once",
)
def approve(application_id: str, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.MERCHANTS)
    done = applications.approve(p, op.id, application_id)
    return {
        **applications.public_application(done.application),
        "activation_code": done.activation_code or None,
    }


@router.post("/ops/merchant-applications/{application_id}/reject", summary="Reject with a reason")
def reject(application_id: str, body: RejectIn, p: PlatformDep, op: Operator) -> dict[str, Any]:
    op.require(roles.MERCHANTS)
    return applications.public_application(
        applications.reject(p, op.id, application_id, body.reason)
    )
