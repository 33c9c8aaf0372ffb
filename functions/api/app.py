"""Tenant and field-agent HTTP API (SPEC §7): a Chalice app behind API Gateway REST.

Thin by design: each view authenticates, has its parameters and body checked against the
OpenAPI document (cobranza.api.contract, always in that order: credential, parameters,
body), calls one use case and returns its result. Errors always have the shape
{"error": {"code", "message", "details"}}.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable
from urllib.parse import unquote

from chalice import Chalice, Response

from cobranza.alarms import service as alarms
from cobranza.api import contract, debtor_page
from cobranza.api import routes as service
from cobranza.api.errors import http_status
from cobranza.core.errors import DomainError
from cobranza.core.observability import logger, metrics
from cobranza.core.settings import get_settings
from cobranza.debtor import selfservice
from cobranza.kpis import service as kpis
from cobranza.reports import service as reports
from cobranza.tenants import auth
from cobranza.visits import results as visit_results
from cobranza.visits import tasks as visits
from cobranza.visits import tracks

get_settings()  # fail the cold start on a bad environment

app = Chalice(app_name="cobranza-api")
app.log.setLevel("WARNING")
JSON = {"Content-Type": "application/json"}


def _error(exc: DomainError) -> Response:
    return Response(body=exc.body(), status_code=http_status(exc), headers=JSON)


def view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turns a domain error into the product's error response (Chalice would answer 500)."""

    @functools.wraps(fn)
    def wrapper(**params: Any) -> Any:
        try:
            return fn(**params)
        except DomainError as exc:
            return _error(exc)

    return wrapper


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.replace("Error", "")).lower() or "error"


@app.middleware("http")
def product_error_shape(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice's own errors (bad JSON, unsupported media type, 500) in the product's shape."""
    logger.append_keys(request_id=event.context.get("requestId"), route=event.context.get("resourcePath"))
    try:
        response = get_response(event)
    finally:
        metrics.flush_metrics(raise_on_empty_metrics=False)  # one EMF line per request that counted something
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = "internal" if response.status_code >= 500 else _snake(str(body["Code"]))
        message = "Internal error." if response.status_code >= 500 else str(body.get("Message", ""))
        response.body = {"error": {"code": code, "message": message, "details": []}}
        response.headers.update(JSON)
    return response


def _tenant():
    return auth.authenticate_tenant(app.current_request.headers)


def _reader():
    """The tenant of a route open to its systems (API key) and to its supervisors (the console)."""
    return auth.authenticate_tenant_or_supervisor_model(app.current_request.headers)[0]


def _agent() -> auth.Agent:
    return auth.authenticate_agent(app.current_request.headers)


def _query() -> dict[str, str]:
    """The query parameters, once the path and query are checked against the document."""
    request = app.current_request
    query = dict(request.query_params or {})
    contract.check_parameters(contract.operation(request.method, request.path), request.uri_params, query)
    return query


def _body() -> Any:
    """The body (JSON, or a form where the route takes one), checked against the document:
    call it after the credential is checked."""
    request = app.current_request
    return contract.check_body(contract.operation(request.method, request.path), request.raw_body,
                               request.headers.get("content-type"))


def _base_url() -> str:
    """The API's URL as this request reached it (https://<host>/<stage>)."""
    context = app.current_request.context
    return f"https://{context.get('domainName', 'localhost')}/{context.get('stage', 'api')}"


def _created(body: Any) -> Response:
    return Response(body=body, status_code=201, headers=JSON)


# ---------------------------------------------------------------- accounts
@app.route("/v1/accounts", methods=["GET"])
@view
def list_accounts() -> Any:
    tenant = _reader()
    return service.list_accounts(tenant, _query())


@app.route("/v1/accounts/{account_id}", methods=["GET"])
@view
def get_account(account_id: str) -> Any:
    tenant = _reader()
    _query()
    return service.get_account(tenant, account_id)


@app.route("/v1/accounts/{account_id}/timeline", methods=["GET"])
@view
def get_timeline(account_id: str) -> Any:
    tenant = _reader()
    return service.get_timeline(tenant, account_id, _query())


@app.route("/v1/accounts/{account_id}/opt-outs", methods=["POST"])
@view
def create_opt_out(account_id: str) -> Any:
    tenant = _tenant()
    _query()
    return _created(service.opt_out(tenant, account_id, _body()))


@app.route("/v1/accounts/{account_id}/promises", methods=["POST"])
@view
def create_promise(account_id: str) -> Any:
    tenant = _tenant()
    _query()
    return _created(service.make_promise(tenant, account_id, _body()))


@app.route("/v1/accounts/{account_id}/outcomes", methods=["POST"])
@view
def create_outcome(account_id: str) -> Any:
    tenant = _tenant()
    _query()
    return _created(service.record_outcome(tenant, account_id, _body()))


# ---------------------------------------------------------------- the phone team
@app.route("/v1/calls", methods=["GET"])
@view
def list_calls() -> Any:
    tenant = _tenant()
    return service.list_calls(tenant, _query())


# ---------------------------------------------------------------- payments
@app.route("/v1/payments", methods=["POST"])
@view
def record_payments() -> Any:
    tenant = _tenant()
    _query()
    return service.record_payments(tenant, _body())


# ---------------------------------------------------------------- alarms and KPIs
@app.route("/v1/alarms", methods=["GET"])
@view
def list_alarms() -> Any:
    tenant = _reader()
    return alarms.list_alarms(tenant, _query())


@app.route("/v1/alarms/{alarm_id}/ack", methods=["POST"])
@view
def acknowledge_alarm(alarm_id: str) -> Any:
    tenant, supervisor = auth.authenticate_tenant_or_supervisor_model(app.current_request.headers)
    _query()
    # API Gateway decodes path parameters, the local gateways may not: an alarm id never holds "%"
    by = f"supervisor:{supervisor.agent_id}" if supervisor else "api_key"
    return alarms.acknowledge(tenant, unquote(alarm_id), by=by)


@app.route("/v1/kpis", methods=["GET"])
@view
def get_kpis() -> Any:
    tenant = _reader()
    return kpis.get_kpis(tenant, _query())


@app.route("/v1/reports/daily/{date}", methods=["GET"])
@view
def daily_report(date: str) -> Any:
    tenant_id, _ = auth.authenticate_tenant_or_supervisor(app.current_request.headers)
    _query()
    return reports.daily_report(tenant_id, date)


# ---------------------------------------------------------------- the debtor's link (signed token, no key)
# A browser gets the debtor's page and posts its forms (cobranza.api.debtor_page); API clients get JSON.
def _page_request() -> debtor_page.PageRequest:
    request = app.current_request
    return debtor_page.PageRequest(
        method=request.method, path=request.path, uri_params=dict(request.uri_params or {}),
        query=dict(request.query_params or {}), headers={k.lower(): v for k, v in request.headers.items()},
        raw_body=request.raw_body, domain=request.context.get("domainName"), sent_path=request.context.get("path"))


def _page(answer: debtor_page.Answer | Any) -> Any:
    if isinstance(answer, debtor_page.Answer):
        return Response(body=answer.body, status_code=answer.status, headers=answer.headers)
    return answer


def _is_form() -> bool:
    return debtor_page.media_type(app.current_request.headers.get("content-type")) == debtor_page.FORM


def _not_json() -> Response | None:
    """415 unless a JSON post says so: Chalice takes a post without a Content-Type for JSON, and
    any site can send one (a form of the debtor's page carries its form token instead)."""
    if debtor_page.media_type(app.current_request.headers.get("content-type")) == debtor_page.JSON:
        return None
    message = "send Content-Type: application/json (or the debtor's page form)"
    return Response(body={"error": {"code": "unsupported_media_type", "message": message, "details": []}},
                    status_code=415, headers=JSON)


@app.route("/v1/self/{token}", methods=["GET"])
@view
def self_view(token: str) -> Any:
    if debtor_page.wants_html(app.current_request.headers.get("accept")):
        return _page(debtor_page.show(token, _page_request()))
    _query()
    return Response(body=selfservice.self_view(token), status_code=200, headers={**JSON, "Vary": "Accept"})


@app.route("/v1/self/{token}/opt-out", methods=["POST"], content_types=["application/json", debtor_page.FORM])
@view
def self_opt_out(token: str) -> Any:
    """From the page's form, a mail client's one-click unsubscribe (RFC 8058: a form post, the
    channel in the link's query), or JSON ``{"channels": [...]}``."""
    if _is_form():
        return _page(debtor_page.form_post(token, _page_request()))
    query = _query()
    selfservice.check_link(token, allow_expired=True)
    refused = _not_json()
    if refused is not None:
        return refused
    body = _body()
    channels = body.get("channels") if isinstance(body, dict) else None
    return selfservice.self_opt_out(token, channels or query.get("channel"))


@app.route("/v1/self/{token}/promise", methods=["POST"], content_types=["application/json", debtor_page.FORM])
@view
def self_promise(token: str) -> Any:
    if _is_form():
        return _page(debtor_page.form_post(token, _page_request()))
    _query()
    selfservice.check_link(token)
    return _not_json() or _created(selfservice.self_promise(token, _body()))


# ---------------------------------------------------------------- uploads
@app.route("/v1/uploads", methods=["POST"])
@view
def create_upload() -> Any:
    tenant = _tenant()
    _query()
    return _created(service.create_upload(tenant, _body()))


@app.route("/v1/uploads/{upload_id}", methods=["GET"])
@view
def get_upload(upload_id: str) -> Any:
    tenant = _tenant()
    _query()
    return service.get_upload(tenant, upload_id)


# ---------------------------------------------------------------- policy
@app.route("/v1/policy", methods=["GET"])
@view
def get_policy() -> Any:
    tenant = _tenant()
    _query()
    return service.get_policy(tenant)


@app.route("/v1/policy", methods=["PUT"])
@view
def put_policy() -> Any:
    tenant = _tenant()
    _query()
    return service.put_policy(tenant, _body())


# ---------------------------------------------------------------- field visits: the tenant (key) and supervisors
@app.route("/v1/visits", methods=["POST"])
@view
def create_visit() -> Any:
    tenant = _tenant()
    _query()
    return _created(visits.create_visit(tenant.tenant_id, _body()))


@app.route("/v1/visits", methods=["GET"])
@view
def list_visits() -> Any:
    tenant_id, _ = auth.authenticate_tenant_or_supervisor(app.current_request.headers)
    query = _query()
    return visits.list_visits(tenant_id, query, service.parse_limit(query.get("limit")))


@app.route("/v1/visits/{visit_id}", methods=["GET"])
@view
def get_visit(visit_id: str) -> Any:
    tenant_id, supervisor = auth.authenticate_tenant_or_supervisor(app.current_request.headers)
    _query()
    return visits.get_visit(tenant_id, visit_id, supervisor, _base_url())


@app.route("/v1/agents/positions", methods=["GET"])
@view
def agent_positions() -> Any:
    tenant_id, _ = auth.authenticate_tenant_or_supervisor(app.current_request.headers)
    _query()
    return visits.agent_positions(tenant_id)


@app.route("/v1/agents/{agent_id}/track", methods=["GET"])
@view
def agent_track(agent_id: str) -> Any:
    tenant_id, caller = auth.authenticate_tenant_or_agent(app.current_request.headers)
    return tracks.agent_track(tenant_id, caller, agent_id, _query())


# ---------------------------------------------------------------- field visits: the agent's app (bearer JWT)
@app.route("/v1/me/visits", methods=["GET"])
@view
def my_visits() -> Any:
    agent = _agent()
    return visits.my_visits(agent, _query())


@app.route("/v1/me/visits/{visit_id}/checkin", methods=["POST"])
@view
def check_in(visit_id: str) -> Any:
    agent = _agent()
    _query()
    return visit_results.check_in(agent, visit_id, _body())


@app.route("/v1/me/visits/{visit_id}/result", methods=["POST"])
@view
def post_result(visit_id: str) -> Any:
    agent = _agent()
    _query()
    status, body = visit_results.submit_result(agent, visit_id, _body())
    return Response(body=body, status_code=status, headers=JSON)


@app.route("/v1/me/photos", methods=["POST"])
@view
def create_photo_upload() -> Any:
    agent = _agent()
    _query()
    return _created(visits.photo_upload(agent, _body()))


@app.route("/v1/me/locations", methods=["POST"])
@view
def post_locations() -> Any:
    agent = _agent()
    _query()
    return visits.record_locations(agent, _body())


# ---------------------------------------------------------------- photo links in the tenant's emails (signed token)
@app.route("/v1/photos/{token}", methods=["GET"])
@view
def photo_link(token: str) -> Any:
    _query()
    return Response(body="", status_code=302, headers={"Location": visits.open_photo(token), "Cache-Control": "no-store"})
