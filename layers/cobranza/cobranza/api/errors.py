"""The one place where a domain error becomes an HTTP status (SPEC §7)."""
from __future__ import annotations

from ..core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
)

HTTP_STATUS: dict[type[DomainError], int] = {
    Invalid: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Unprocessable: 422,
}


def http_status(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 400


def error_for_status(status: int) -> type[DomainError]:
    """The kind of error an HTTP status stands for (the OpenAPI document names statuses)."""
    for kind, code in HTTP_STATUS.items():
        if code == status:
            return kind
    raise ValueError(f"no domain error answers {status}")
