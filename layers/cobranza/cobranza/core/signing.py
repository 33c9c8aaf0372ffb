"""The stack's signing secret (``LinkSigningSecret``): it signs the debtors' self-service links,
the agents' photo links and (under its own purpose) the API's page tokens."""
from __future__ import annotations

from . import aws
from .settings import get_settings


def link_key() -> bytes | None:
    """The secret's bytes; None when the stack has none configured (a single-process test)."""
    secret_id = get_settings().link_secret_id
    return aws.secret(secret_id).encode() if secret_id else None
