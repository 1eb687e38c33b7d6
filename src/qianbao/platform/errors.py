"""Domain errors with stable codes. The API maps each to a 4xx with ``{code, message}``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class QianbaoError(Exception):
    code = "ERROR"
    http_status = 400

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        if code:
            self.code = code


class InvalidArgument(QianbaoError):
    code = "INVALID_ARGUMENT"


class NotFound(QianbaoError):
    code = "NOT_FOUND"
    http_status = 404


class UnknownId(NotFound, ValueError):
    """An id that carries no route bucket cannot name anything: 404, not a crash. It is also a
    ``ValueError`` so the callers that tell our ids from outside references keep working."""

    code = "ID_NOT_FOUND"


class Unauthorized(QianbaoError):
    code = "UNAUTHORIZED"
    http_status = 401


class Forbidden(QianbaoError):
    code = "FORBIDDEN"
    http_status = 403


class Conflict(QianbaoError):
    code = "CONFLICT"
    http_status = 409


class Busy(QianbaoError):
    code = "SYSTEM_BUSY"
    http_status = 503


class UnitUnavailable(Busy):
    """A unit's process did not answer (down, restarting, or slower than the timeout). The
    answer carries ``Retry-After``; a retry with the same request id never applies twice."""

    code = "UNIT_UNAVAILABLE"

    def __init__(self, message: str = "", *, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BucketMoving(Busy):
    """Writes for this route bucket are paused while it moves to another unit (ADR 0935): a
    503 with ``Retry-After``; nothing was applied, so the same request may be sent again."""

    code = "BUCKET_MOVING"

    def __init__(self, message: str = "", *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class NotDistributed(QianbaoError):
    """An operation that still runs only where its unit's writer is local (the embedded
    mode, or inside the unit's own process): it is not a command that can travel yet."""

    code = "NOT_AVAILABLE_IN_DISTRIBUTED_MODE"
    http_status = 501


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"


class InvalidTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"


class InsufficientBalance(QianbaoError):
    code = "BALANCE_NOT_ENOUGH"


class LimitExceeded(QianbaoError):
    code = "LIMIT_EXCEEDED"


class RateLimited(QianbaoError):
    """Over a flow limit (platform/flow.py): try again after ``Retry-After``. Nothing was done."""

    code = "RATE_LIMITED"
    http_status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class TooManyInFlight(Busy):
    """This process already serves ``flow_max_in_flight`` requests: 503 with Retry-After."""

    code = "TOO_MANY_IN_FLIGHT"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class DependencyUnavailable(Busy):
    """An outside dependency's circuit breaker is open, or its calls are all busy waiting
    (platform/breaker.py): the call was not made. 503 with Retry-After."""

    code = "DEPENDENCY_UNAVAILABLE"

    def __init__(self, message: str, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(retry_after_s)}


class SwitchedOff(QianbaoError):
    """A degradation switch (platform/controls.py) turned this off for now: 503, Retry-After.
    Each switch that refuses has its own code (below)."""

    code = "FEATURE_SWITCHED_OFF"
    http_status = 503

    def __init__(self, message: str, *, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after_s)}


class RegistrationsPaused(SwitchedOff):
    code = "REGISTRATIONS_PAUSED"


class CouponsOff(SwitchedOff):
    code = "COUPONS_OFF"


class InstallmentsOff(SwitchedOff):
    code = "INSTALLMENTS_OFF"


class ScoreRefreshPaused(SwitchedOff):
    code = "SCORE_REFRESH_PAUSED"


def all_codes(registered: Mapping[str, Iterable[str]] | None = None) -> dict[str, list[str]]:
    """Every stable error code, grouped by package, sorted: the listing merchants code against.

    The platform's own codes come first: its base classes above, and the two it raises inline
    (``AMOUNT_TOO_LARGE`` in money.py, ``CONCURRENT_UPDATE`` in states.py). The packages' codes
    are ``registered`` (``Platform.error_codes``, filled by bootstrap.py): the platform imports no
    package above it, so each package's enum is handed to it."""
    bases = [v for v in globals().values() if isinstance(v, type) and issubclass(v, QianbaoError)]
    own = {str(cls.code) for cls in bases} | {"AMOUNT_TOO_LARGE", "CONCURRENT_UPDATE"}
    listed = {"platform": sorted(own)}
    for package, codes in sorted((registered or {}).items()):
        listed[package] = sorted({str(code) for code in codes})
    return listed
