"""The debtor's page at the HTTP edge (SPEC §9): which answer a request gets, the page's form
posts, their cross-site checks, the HTML error pages and the headers of every HTML answer.

- ``GET /v1/self/{token}`` from a browser (its ``Accept`` prefers text/html over JSON) gets the
  page; any other client gets the JSON of ``selfservice.self_view``, unchanged.
- A form post (``application/x-www-form-urlencoded``) to ``.../promise`` or ``.../opt-out`` is
  the page's, except RFC 8058's one-click body (``List-Unsubscribe=One-Click``) on the opt-out
  route, which is answered as before (JSON; the channel in the link's query). The page's form
  needs its form token (``csrf``), and one whose ``Origin`` (else ``Referer``) names another
  site is refused: 403 and the page again, nothing recorded. It worked: ``303 See Other`` to the
  page with ``?hecho=promesa`` or ``?hecho=baja``; a field to fix: 422 and the page with the
  message next to the field.
- Errors before the body is read (a bad link, an unknown parameter) are an HTML page when the
  request prefers HTML, the product's JSON error otherwise.

The HTML answers say ``Referrer-Policy: same-origin``: the link's token is in the URL, and it
never leaves the site. (``no-referrer`` would also make browsers send ``Origin: null`` with the
page's own form posts, which the cross-site check refuses.)
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from ..core import clock
from ..core.errors import Conflict, DomainError, Forbidden, Unprocessable
from ..core.settings import get_settings
from ..debtor import page, selfservice
from . import contract
from .errors import http_status

FORM = contract.FORM
JSON = "application/json"
ONE_CLICK = "List-Unsubscribe"
#: Form fields the page fills in again after a refused post (never the form token).
_ECHOED = ("amount", "date", *(page.CHANNEL_FIELD + name for name in page.CHANNEL_LABELS))
_MAX_ACCEPT_RANGES = 50


@dataclass(frozen=True)
class PageRequest:
    """What the edge reads of a request (header names in lower case)."""
    method: str
    path: str  # the route, as the OpenAPI document names it
    uri_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    raw_body: bytes | str | None = None
    domain: str | None = None  # requestContext.domainName
    sent_path: str | None = None  # requestContext.path: the path as the browser sent it


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]


# ---------------------------------------------------------------- negotiation
def media_type(content_type: str | None) -> str:
    """A Content-Type's ``type/subtype`` in lower case ("" when there is none)."""
    return (content_type or "").split(";")[0].strip().lower()


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(",")[:_MAX_ACCEPT_RANGES]:
        media, *params = [p.strip() for p in part.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
                quality = quality if 0.0 <= quality <= 1.0 else 0.0  # NaN too
        ranges.append((media.lower(), quality))
    return ranges


def _quality(ranges: list[tuple[str, float]], media: str) -> float:
    """The quality of ``media``: that of the most specific range that matches it."""
    wildcard = media.split("/")[0] + "/*"
    best, specificity = 0.0, -1
    for candidate, quality in ranges:
        rank = 2 if candidate == media else 1 if candidate == wildcard else 0 if candidate == "*/*" else -1
        if rank > specificity:
            best, specificity = quality, rank
    return best


def wants_html(accept: str | None) -> bool:
    """True for a browser: its Accept prefers text/html to application/json (a tie is JSON)."""
    if not accept:
        return False
    ranges = _ranges(accept)
    return _quality(ranges, "text/html") > _quality(ranges, JSON)


def cross_site(request: PageRequest, public_base: str | None) -> bool:
    """True when the post names a site other than this API: its Origin (else its Referer) is
    present and is not the host the request reached, nor the public base URL of the links."""
    source = request.headers.get("origin")
    if source is None:
        source = request.headers.get("referer")
    if not source:
        return False
    netloc = urlsplit(source.strip()).netloc.lower() if "://" in source else ""  # "null" is another site
    own = {host.strip().lower() for host in (request.headers.get("host"), request.domain) if host}
    if public_base:
        own.add(urlsplit(public_base).netloc.lower())
    return not netloc or netloc not in own


# ---------------------------------------------------------------- answers
def html_headers() -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": page.content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Content-Language": "es-MX",
        "Vary": "Accept",  # the link answers HTML to browsers and JSON to API clients
    }


def _html(status: int, body: str) -> Answer:
    return Answer(status, body, html_headers())


def _see_other(location: str) -> Answer:
    headers = html_headers()
    headers["Location"] = location
    return Answer(303, "", headers)


def problem(token: str, exc: DomainError, *, root: str, now: datetime, done: str | None = None) -> Answer:
    """The HTML page of an error: an expired link still offers opting out (it never expires)."""
    status = http_status(exc)
    if isinstance(exc, selfservice.LinkExpired):
        try:
            view = selfservice.page_view(token, now, expired=True)
        except DomainError:
            return _html(status, page.render_problem("expired_link"))
        return _html(status, page.render(replace(view, root=root, done=done)))
    kind = {401: "invalid_link", 403: "forbidden", 404: "not_found"}.get(status, "bad_request")
    return _html(status, page.render_problem(kind, back=None if status in (401, 404) else root))


def show(token: str, request: PageRequest) -> Answer:
    """GET for a browser: the page (with the confirmation of ``?hecho=``)."""
    now = clock.utcnow()
    done = None
    # the forms' actions are relative to the page's own URL: `<token>/promise` from `.../<token>`,
    # `./promise` from `.../<token>/` (API Gateway routes both to this page)
    root = "." if (request.sent_path or "").endswith("/") else token
    try:
        # A browser's link may carry what messengers and campaign tools add (fbclid, utm_*): the
        # page reads its own `hecho` when valid and ignores the rest (JSON clients stay strict).
        known = {"hecho": request.query["hecho"]} if request.query.get("hecho") in ("promesa", "baja") else {}
        query = contract.check_parameters(contract.operation(request.method, request.path), request.uri_params, known)
        done = query.get("hecho")
        view = selfservice.page_view(token, now)
    except DomainError as exc:
        return problem(token, exc, root=root, now=now, done=done)
    return _html(200, page.render(replace(view, root=root, done=done)))


def form_post(token: str, request: PageRequest) -> Answer | dict[str, Any]:
    """A form post to ``.../promise`` or ``.../opt-out``: the page's form, or (opt-out only) a
    mail client's one-click unsubscribe, whose answer stays JSON."""
    now = clock.utcnow()
    opt_out = request.path.endswith("/opt-out")
    operation = contract.operation(request.method, request.path)
    try:  # in this order: the parameters (a malformed token is 401), the link, the body
        query = contract.check_parameters(operation, request.uri_params, request.query)
        selfservice.check_link(token, now, allow_expired=opt_out)
        form = contract.check_form(operation, request.raw_body)
    except DomainError as exc:
        if wants_html(request.headers.get("accept")):
            return problem(token, exc, root="../" + token, now=now)
        raise
    if opt_out and ONE_CLICK in form:  # RFC 8058: the channel comes from the link's query
        return selfservice.self_opt_out(token, query.get("channel"), now)
    act = selfservice.opt_out_from_form if opt_out else selfservice.promise_from_form
    return _page_form(token, request, form, act, "baja" if opt_out else "promesa", now)


def _page_form(token: str, request: PageRequest, form: Mapping[str, str],
               act: Callable[[str, Mapping[str, Any], datetime], Any], done: str, now: datetime) -> Answer:
    root = "../" + token  # the answer's URL is .../<token>/promise or .../<token>/opt-out
    try:
        if cross_site(request, get_settings().self_service_url):
            raise Forbidden("forbidden", "the form was posted from another site")
        act(token, form, now)
    except Forbidden:
        return _again(token, now, root, 403, notice=page.NOTICES["stale_form"])
    except Conflict:
        return _again(token, now, root, 409, notice=page.NOTICES["no_promise"])
    except Unprocessable as exc:
        return _again(token, now, root, 422, problems=exc.details, values=form)
    except DomainError as exc:
        return problem(token, exc, root=root, now=now)
    return _see_other(f"{root}?hecho={done}")


def _again(token: str, now: datetime, root: str, status: int, *, notice: str | None = None,
           problems: list[Any] | None = None, values: Mapping[str, str] | None = None) -> Answer:
    """The page again, answering a form it did not record: a notice, or the fields to fix."""
    try:
        try:
            view = selfservice.page_view(token, now)
        except selfservice.LinkExpired:
            view = selfservice.page_view(token, now, expired=True)
    except DomainError as exc:
        return problem(token, exc, root=root, now=now)
    echoed = {name: str(values[name]) for name in _ECHOED if values and name in values}
    view = replace(view, root=root, notice=notice, errors=page.field_errors(problems or [], view), values=echoed)
    return _html(status, page.render(view))
