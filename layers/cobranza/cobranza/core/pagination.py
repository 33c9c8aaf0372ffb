"""Pages of the API's lists: the limit and the signed next_token (cobranza.core.page_tokens)."""
from __future__ import annotations

import hashlib
import hmac
from datetime import date
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


#: The days a query may name (KPI ranges, tracks, reports): a date outside them is a 400.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_day(raw: str | None, field: str) -> date | None:
    """A query's day (``YYYY-MM-DD``, years 2000 to 2100), None when not given; else 400 naming ``field``."""
    if raw in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(raw)) if len(str(raw)) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Invalid("bad_request", f"{field} must be a date, YYYY-MM-DD, from {FIRST_YEAR} to {LAST_YEAR}",
                      [{"field": field, "value": str(raw)[:40]}])
    return day
