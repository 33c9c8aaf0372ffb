"""Pagination tokens (SPEC §7): a page's position, signed for the list it belongs to.

``<payload>.<signature>``, both base64url without padding: the payload is the compact JSON of
DynamoDB's ``LastEvaluatedKey``; the signature is HMAC-SHA256 over the list's scope (route,
tenant, filters) and the payload. A token altered, forged, or taken from another route, tenant
or set of filters does not verify, so nothing but a position this API handed out reaches
DynamoDB as ``ExclusiveStartKey``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Mapping

SIGNATURE_BYTES = 16


class InvalidPageToken(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signature(secret: bytes, scope: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{scope}\n{payload}".encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES])


def seal(secret: bytes, scope: str, position: Mapping[str, Any] | None) -> str | None:
    """The token of ``position`` (None at the end of the list)."""
    if not position:
        return None
    payload = _b64(json.dumps(position, sort_keys=True, separators=(",", ":")).encode())
    return f"{payload}.{_signature(secret, scope, payload)}"


def unseal(secret: bytes, scope: str, token: str | None) -> dict[str, Any] | None:
    """The position a token carries (None for no token); InvalidPageToken unless this API made
    it for exactly this ``scope``."""
    if not token:
        return None
    payload, _, signature = token.partition(".")
    if not token.isascii() or not payload or not hmac.compare_digest(_signature(secret, scope, payload), signature):
        raise InvalidPageToken("next_token is not valid for this list")
    try:
        position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidPageToken("next_token is not valid for this list") from None
    if not isinstance(position, dict):
        raise InvalidPageToken("next_token is not valid for this list")
    return position
