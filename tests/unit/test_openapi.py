"""docs/openapi.yaml describes the API the template deploys and the code answers.

- it is a valid OpenAPI 3.0 document;
- its (path, method) pairs are exactly the template's Api events (the routes API Gateway has);
- every operation declares its error responses, all in the product's error shape;
- the Policy schema is the one the code validates with (cobranza.domain.policy.POLICY_SCHEMA);
- what the use cases return (an account, a policy, an upload ticket) validates against the
  documented response schemas, so a field added or renamed in code shows up here.

No network: the use cases are called with in-memory inputs (presigning is local computation).
"""
from __future__ import annotations

import copy
from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
import yaml

from infra.local.template import LocalTemplate
from tests.helpers import ROOT

OPENAPI = ROOT / "docs" / "openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ALWAYS = {"401", "429", "500"}  # every route: key checked, API Gateway throttling, unexpected failure
WITH_PATH_PARAMETER = {"404"}
WITH_BODY = {"400", "413", "415", "422"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def _template_routes() -> set[tuple[str, str]]:
    template = LocalTemplate(ROOT / "template.yaml")
    routes = set()
    for function in template.functions.values():
        for event in function.events_of_type("Api").values():
            routes.add((event.properties["Path"], str(event.properties["Method"]).lower()))
    return routes


def test_the_document_is_valid_openapi_3_0(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    assert spec["openapi"].startswith("3.0.")
    validator.validate(spec)


def test_the_documented_routes_are_exactly_the_template_routes(spec):
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert documented == _template_routes()


def test_every_operation_needs_the_tenant_key_except_the_debtors_signed_link(spec):
    scheme = spec["components"]["securitySchemes"]["tenantApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    for path, method, operation in _operations(spec):
        expected = [] if path.startswith("/v1/self/") else [{"tenantApiKey": []}]
        assert operation.get("security", spec["security"]) == expected, (path, method)


def test_every_operation_declares_its_error_responses_in_the_error_shape(spec):
    error_schema = spec["components"]["schemas"]["Error"]
    assert error_schema["required"] == ["error"]
    assert error_schema["properties"]["error"]["required"] == ["code", "message", "details"]
    for path, method, operation in _operations(spec):
        statuses = set(operation["responses"])
        expected = set(ALWAYS)
        if "{" in path:
            expected |= WITH_PATH_PARAMETER
        if "requestBody" in operation:
            expected |= WITH_BODY
        missing = expected - statuses
        assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
        assert any(s.startswith("2") for s in statuses), (path, method)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = _resolve(spec, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_the_policy_schema_is_the_one_the_code_validates_with(spec):
    from cobranza.domain.policy import POLICY_SCHEMA

    expected = copy.deepcopy(POLICY_SCHEMA)
    expected.pop("$schema")
    assert spec["components"]["schemas"]["Policy"] == expected


def test_list_pagination_is_limit_1_to_100_and_next_token(spec):
    from cobranza.service import api

    operation = spec["paths"]["/v1/accounts"]["get"]
    params = {_resolve(spec, p)["name"]: _resolve(spec, p) for p in operation["parameters"]}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == api.MAX_PAGE
    assert params["limit"]["schema"]["default"] == api.DEFAULT_PAGE
    assert "next_token" in params
    filters = set(params) - {"limit", "next_token"}
    assert filters == set(api.ACCOUNT_FILTERS)


# ---------------------------------------------------------------- responses vs. schemas
def _validate(spec: dict, schema_name: str, instance) -> None:
    validators = pytest.importorskip("openapi_schema_validator")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validators.validate(instance, schema, cls=validators.OAS30Validator)


def _stored_account() -> dict:
    """An account item as ingestion stores it (facts from the file plus bookkeeping)."""
    return {
        "tenant_id": "demo", "account_id": "A-1", "debtor_name": "Verónica Ramos Zazueta",
        "balance": Decimal("10929.9"), "original_amount": Decimal("13000"), "currency": "MXN",
        "due_date": "2026-12-11", "timezone": "America/Hermosillo", "phone": "+526442051990",
        "email": "veronica@example.com", "address": "Av. Juárez 34-C", "city": "Ciudad Obregón",
        "state": "Sonora", "postal_code": "85000", "lat": Decimal("27.48129"), "lon": Decimal("-109.929857"),
        "geo_source": "file", "product": "Tarjeta de Crédito", "given_risk_score": None,
        "whatsapp_opt_in": False, "payment_reference": "300000791991", "attributes": {"sucursal": "12"},
        "status": "active", "next_action_on": "2026-12-08",
        "created_at": "2026-11-23T07:16:39Z", "updated_at": "2026-11-23T07:16:39Z",
    }


def test_an_account_view_matches_the_account_schema(spec):
    from cobranza.domain.policy import DEFAULT_POLICY
    from cobranza.service.api import account_view

    view = account_view(_stored_account(), DEFAULT_POLICY, date(2026, 11, 23))
    _validate(spec, "Account", view)
    assert view["balance"] == "10929.90" and view["original_amount"] == "13000.00"
    documented = spec["components"]["schemas"]["Account"]
    assert set(view) == set(documented["properties"]) == set(documented["required"])

    sparse = {k: v for k, v in _stored_account().items()
              if k in ("tenant_id", "account_id", "debtor_name", "balance", "currency", "due_date", "timezone",
                       "created_at", "updated_at")}
    _validate(spec, "Account", account_view(sparse, DEFAULT_POLICY, date(2026, 11, 23)))
    _validate(spec, "AccountPage", {"items": [view], "next_token": None})


def test_the_policy_answer_matches_its_schema(spec):
    from cobranza.service.api import get_policy

    for stored, version in ((None, 0), ({"locale": "en", "amount_tiers": {"medium_from": 1, "high_from": 2}}, 3)):
        answer = get_policy(SimpleNamespace(policy=stored, policy_version=version))
        _validate(spec, "PolicyResponse", answer)
        assert answer["version"] == version


def test_the_upload_ticket_matches_its_schema(spec, monkeypatch):
    from cobranza import aws
    from cobranza.config import Settings
    from cobranza.service import api

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = Settings(data_bucket="cobranza-data-123456789012-us-east-1", accounts_table="a", tenants_table="t",
                        api_keys_table="k", uploads_table="u", idempotency_table="i", alarms_table="al",
                        timeline_table="tl", visits_table="v", agents_table="ag", email_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/e",
                        sms_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/s",
                        whatsapp_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/w",
                        sender_email="no-reply@example.com")
    monkeypatch.setattr(api, "get_settings", lambda: settings)
    monkeypatch.setattr(api.uploads_repo, "create_pending", lambda *args: None)
    aws.reset()
    try:
        ticket = api.create_upload(SimpleNamespace(tenant_id="demo"), {"filename": "cartera.csv", "mode": "delta"},
                                   now=datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc))
    finally:
        aws.reset()
    _validate(spec, "UploadTicket", ticket)
    assert ticket["key"] == f"portfolios/demo/delta/{ticket['upload_id']}-cartera.csv"


def test_documented_examples_of_errors_are_in_the_error_shape(spec):
    for name, response in spec["components"]["responses"].items():
        example = response["content"]["application/json"].get("example")
        if example is not None:
            _validate(spec, "Error", example)
