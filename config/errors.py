"""Business errors raised by services.

Each carries a machine-readable ``code``, a human ``detail``, the input ``fields``
it concerns and the HTTP status the API answers with, so the API, the admin and
the web forms all report a broken rule the same way.
"""

from __future__ import annotations


class ServiceError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, detail: str, *, fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        if code:
            self.code = code


class InvalidInput(ServiceError):
    code = "invalid"
    status = 400

    def __init__(self, field: str, message: str, *, code: str | None = None):
        super().__init__(f"{field}: {message}", fields={field: [message]}, code=code)


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class InsufficientFunds(ServiceError):
    code = "insufficient_funds"
    status = 422


class RuleViolation(ServiceError):
    """A well-formed request that a business rule forbids."""

    code = "rule_violation"
    status = 422


class InvalidState(ServiceError):
    """The object is not in a state that allows the operation (e.g. already decided)."""

    code = "invalid_state"
    status = 409


class IdempotencyConflict(ServiceError):
    """The same idempotency key was used for a different operation or body."""

    code = "idempotency_conflict"
    status = 409
