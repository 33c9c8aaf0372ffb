"""What a use case answers when it will not do what it was asked: a domain error, with a code
the caller can act on, a message for a person and details (field, value, allowed...). The API
edge maps each kind to its HTTP status once (``cobranza.api.errors``); the use cases, the
campaign and the workers never speak HTTP."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, code: str, message: str, details: list[Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The product's error shape (SPEC §7)."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Invalid(DomainError):
    """The request is malformed: a parameter, a token or a body that cannot be read."""


class Unauthenticated(DomainError):
    """No credential, or one that is not valid."""


class Forbidden(DomainError):
    """A valid credential that may not do this."""


class NotFound(DomainError):
    """No such thing for this tenant (or agent, or link)."""


class Conflict(DomainError):
    """It clashes with the current state: a version, a state already final, a duplicate."""


class TooLarge(DomainError):
    """The body is over its limit."""


class Unprocessable(DomainError):
    """Well formed, but it breaks the rules: each problem is in the details."""
