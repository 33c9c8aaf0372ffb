"""Pages of the API's lists: the limit and the signed next_token (cobranza.core.page_tokens)."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping

from . import page_tokens
from .errors import Invalid
from .signing import link_key

MAX_PAGE = 100
DEFAULT_PAGE = 50
_PURPOSE = b"cobranza/page-tokens/v1"


def _secret() -> bytes:
    """The stack's signing secret (LinkSigningSecret), kept apart from the debtors' links by
    its purpose. Without one (tests of a single process), a fixed key: tokens stay bound to
    their list, not secret."""
    return hmac.new(link_key() or b"unsigned", _PURPOSE, hashlib.sha256).digest()


def scope(route: str, tenant_id: str, **filters: Any) -> str:
    """What a token is bound to: the list's route, its owner and its filters."""
    return "|".join([route, tenant_id, *(f"{k}={filters[k]}" for k in sorted(filters) if filters[k] is not None)])


def parse_limit(raw: str | None, default: int = DEFAULT_PAGE, maximum: int = MAX_PAGE) -> int:
    """The page size asked for (``default`` without one); 400 outside 1 to ``maximum``."""
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise Invalid("bad_request", f"limit must be a whole number from 1 to {maximum}",
                       [{"field": "limit", "value": raw[:40]}])
    return int(raw)


def start_of(list_scope: str, query: Mapping[str, str]) -> dict[str, Any] | None:
    """Where the page starts: the position in the query's next_token (400 if it is not this list's)."""
    try:
        return page_tokens.unseal(_secret(), list_scope, query.get("next_token"))
    except page_tokens.InvalidPageToken as exc:
        raise Invalid("bad_request", str(exc), [{"field": "next_token"}]) from None


def next_token(list_scope: str, last: Mapping[str, Any] | None) -> str | None:
    return page_tokens.seal(_secret(), list_scope, last)
