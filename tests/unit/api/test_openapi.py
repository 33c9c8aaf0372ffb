"""docs/openapi.yaml describes the API the template deploys and the code answers.

- it is a valid OpenAPI 3.0 document;
- its (path, method) pairs are exactly the template's Api events (the routes API Gateway has);
- every operation asks for its credential: the tenant key, an agent's JWT, either, or none;
- every operation declares its error responses, all in the product's error shape;
- the Policy schema is the one the code validates with (cobranza.tenants.policy.POLICY_SCHEMA);
- what the use cases return (an account, a policy, an upload ticket, a visit, a check-in, a
  visit result, the agent's day, a photo ticket, pings, positions) validates against the
  documented response schemas, so a field added or renamed in code shows up here.

No network: the use cases are called with in-memory inputs and their storage calls replaced by
fakes (presigning is local computation); answers go through JSON as Chalice sends them.
"""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
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
TENANT_KEY = [{"tenantApiKey": []}]
AGENT_JWT = [{"agentJwt": []}]
#: Routes for the tenant's systems that a supervisor's token also opens.
KEY_OR_SUPERVISOR = {("/v1/visits", "get"), ("/v1/visits/{visit_id}", "get"), ("/v1/agents/positions", "get"),
                     ("/v1/accounts", "get"), ("/v1/accounts/{account_id}", "get"),
                     ("/v1/accounts/{account_id}/timeline", "get"), ("/v1/alarms", "get"),
                     ("/v1/alarms/{alarm_id}/ack", "post"), ("/v1/kpis", "get"), ("/v1/reports/daily/{date}", "get"),
                     ("/v1/agents/{agent_id}/track", "get")}  # also the agent's own token
#: Routes whose signed, expiring token in the path is the credential.
SIGNED_LINKS = ("/v1/self/", "/v1/photos/")


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
    for logical_id, function in template.functions.items():
        if logical_id == "ConsoleFunction":  # the console's page and files, not the JSON API
            continue
        for event in function.events_of_type("Api").values():
            if str(event.properties["Method"]).lower() != "any":  # the 405 catch-all of each path
                routes.add((event.properties["Path"], str(event.properties["Method"]).lower()))
    return routes


def test_the_document_is_valid_openapi_3_0(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    assert spec["openapi"].startswith("3.0.")
    validator.validate(spec)


def test_the_documented_routes_are_exactly_the_template_routes(spec):
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert documented == _template_routes()


def _expected_security(path: str, method: str) -> list[dict]:
    if path.startswith("/v1/me/"):
        return AGENT_JWT
    if path.startswith(SIGNED_LINKS):
        return []
    if (path, method) in KEY_OR_SUPERVISOR:
        return TENANT_KEY + AGENT_JWT
    return TENANT_KEY


def test_every_operation_needs_the_tenant_key_an_agents_jwt_either_or_its_signed_link(spec):
    scheme = spec["components"]["securitySchemes"]["tenantApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    assert spec["security"] == TENANT_KEY
    documented = {(path, method) for path, method, _ in _operations(spec)}
    assert KEY_OR_SUPERVISOR <= documented
    assert any(path.startswith("/v1/me/") for path, _ in documented)
    for path, method, operation in _operations(spec):
        security = operation.get("security", spec["security"])
        assert security == _expected_security(path, method), (path, method)
        if AGENT_JWT[0] in security:  # a valid token of the wrong kind of user
            assert "403" in operation["responses"], (path, method)


def test_the_agent_jwt_scheme_is_a_bearer_cognito_id_token(spec):
    scheme = spec["components"]["securitySchemes"]["agentJwt"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert set(scheme) == {"type", "scheme", "bearerFormat", "description"}
    for word in ("IdToken", "AgentPool", "custom:tenant_id", "groups"):
        assert word in scheme["description"], word


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
        # a success: 2xx, or the redirect of a photo link
        assert any(s.startswith("2") for s in statuses) or statuses & {"302"}, (path, method)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = _resolve(spec, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_the_policy_schema_is_the_one_the_code_validates_with(spec):
    from cobranza.tenants.policy import POLICY_SCHEMA

    expected = copy.deepcopy(POLICY_SCHEMA)
    expected.pop("$schema")
    assert spec["components"]["schemas"]["Policy"] == expected


def test_the_question_schema_is_the_one_the_policy_validates_questionnaires_with(spec):
    from cobranza.visits.questionnaires import QUESTIONNAIRE_SCHEMA

    assert spec["components"]["schemas"]["Question"] == QUESTIONNAIRE_SCHEMA["properties"]["questions"]["items"]


def test_the_documented_visit_vocabularies_are_the_codes(spec):
    from cobranza.visits.geo import REASONS
    from cobranza.visits.rules import OUTCOMES
    from cobranza.visits.store import STATUSES

    schemas = spec["components"]["schemas"]
    assert schemas["Verification"]["properties"]["reasons"]["items"]["enum"] == list(REASONS)
    assert schemas["VisitOutcome"]["enum"] == list(OUTCOMES)
    assert schemas["VisitStatus"]["enum"] == list(STATUSES)
    operation = spec["paths"]["/v1/visits"]["get"]
    params = {_resolve(spec, p)["name"] for p in operation["parameters"]}
    assert params == {"status", "agent", "date", "limit", "next_token"}


def test_list_pagination_is_limit_1_to_100_and_next_token(spec):
    from cobranza.api import routes as api
    from cobranza.core import pagination

    operation = spec["paths"]["/v1/accounts"]["get"]
    params = {_resolve(spec, p)["name"]: _resolve(spec, p) for p in operation["parameters"]}
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == pagination.MAX_PAGE
    assert params["limit"]["schema"]["default"] == pagination.DEFAULT_PAGE
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
    from cobranza.api.routes import account_view
    from cobranza.tenants.policy import DEFAULT_POLICY

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
    from cobranza.api.routes import get_policy

    for stored, version in ((None, 0), ({"locale": "en", "amount_tiers": {"medium_from": 1, "high_from": 2}}, 3)):
        answer = get_policy(SimpleNamespace(policy=stored, policy_version=version))
        _validate(spec, "PolicyResponse", answer)
        assert answer["version"] == version


def test_the_upload_ticket_matches_its_schema(spec, monkeypatch):
    from cobranza.api import routes as api
    from cobranza.core import aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = _settings()
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
    for response in spec["components"]["responses"].values():
        example = response["content"]["application/json"].get("example")
        if example is not None:
            _validate(spec, "Error", example)


# ---------------------------------------------------------------- field visits vs. schemas
TENANT = "demo"
NOW = datetime(2026, 11, 23, 16, 20, tzinfo=timezone.utc)
ZOCALO = (19.4326, -99.1332)
PHOTO_LINK_SECRET = b"k" * 32


def _settings(**extra):
    from cobranza.core.settings import Settings

    return Settings(data_bucket="cobranza-data-123456789012-us-east-1", accounts_table="a", tenants_table="t",
                    api_keys_table="k", uploads_table="u", alarms_table="al",
                    timeline_table="tl", visits_table="v", agents_table="ag",
                    email_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/e",
                    sms_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/s",
                    whatsapp_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/w",
                    sender_email="no-reply@example.com", **extra)


def _wire(value):
    """What the client gets: Chalice's JSON (Decimals become floats)."""
    from chalice.app import handle_extra_types

    return json.loads(json.dumps(value, default=handle_extra_types))


def _stored(item: dict) -> dict:
    """An item as DynamoDB gives it back (None and empty values dropped, numbers as Decimal)."""
    from cobranza.accounts.store import from_wire, to_wire

    return from_wire(to_wire(item))


def _north_of(point, metres):
    return point[0] + metres / 111_195, point[1]


class _Field:
    """One tenant, one agent, one account and its visit; storage replaced by dictionaries."""

    def __init__(self, monkeypatch):
        from cobranza.accounts import alarms as alarms_repo
        from cobranza.accounts import store as accounts_repo
        from cobranza.accounts import timeline as timeline_repo
        from cobranza.core import aws
        from cobranza.tenants import store as tenants_repo
        from cobranza.tenants.auth import Agent
        from cobranza.tenants.policy import DEFAULT_POLICY
        from cobranza.visits import agents as agents_repo
        from cobranza.visits import photos as photo_store
        from cobranza.visits import results as visit_results
        from cobranza.visits import store as visits_repo
        from cobranza.visits import tasks as visits

        self.visits_module, self.results_module = visits, visit_results
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        aws.reset()
        self.settings = _settings(self_service_url="https://api.example.com/api", link_secret_id="links")
        for module in (visits, visits_repo, agents_repo, photo_store, timeline_repo, alarms_repo):
            monkeypatch.setattr(module, "get_settings", lambda: self.settings)
        monkeypatch.setattr(visits, "link_key", lambda: PHOTO_LINK_SECRET)
        from cobranza.core import pagination
        monkeypatch.setattr(pagination, "link_key", lambda: PHOTO_LINK_SECRET)
        tenant = SimpleNamespace(tenant_id=TENANT, name="Financiera Demo", timezone="America/Mexico_City",
                                 policy=None, policy_version=0, notify_emails=["cobranza@example.com"])
        monkeypatch.setattr(tenants_repo, "get_tenant_cached", lambda tenant_id: tenant if tenant_id == TENANT else None)
        from cobranza.kpis import store as kpis_repo
        self.kpis: list[tuple] = []
        monkeypatch.setattr(kpis_repo, "add", lambda *args, **kwargs: self.kpis.append(args))

        self.principal = Agent(tenant_id=TENANT, agent_id="sub-ana", email="ana@example.com",
                               groups=frozenset({"agents"}))
        self.account = _stored(dict(_stored_account(), account_id="A-1", lat=Decimal(str(ZOCALO[0])),
                                    lon=Decimal(str(ZOCALO[1])), city="Ciudad de México", state="Ciudad de México",
                                    postal_code="06000", timezone="America/Mexico_City", days_past_due=35,
                                    stage="extrajudicial", balance=Decimal("10929.90")))
        home = _north_of(ZOCALO, 2000)
        self.agent = _stored({
            "tenant_id": TENANT, "agent_id": "sub-ana", "email": "ana@example.com", "name": "ana", "role": "agent",
            "zones": ["CDMX"], "home_lat": Decimal(str(home[0])), "home_lon": Decimal(str(home[1])), "active": True,
            "position_lat": Decimal(str(home[0])), "position_lon": Decimal(str(home[1])),
            "position_accuracy_m": Decimal("10"), "position_battery_pct": 88,
            "position_at": "2026-11-23T15:40:00Z", "last_seen_at": "2026-11-23T15:40:02Z",
        })
        self.supervisor = _stored({"tenant_id": TENANT, "agent_id": "sub-sup", "email": "sup@example.com",
                                   "name": "sup", "role": "supervisor", "active": True})
        self.visits: dict[str, dict] = {}
        for visit_id in ("vis_3f2a9c1d4b5e6f708192a3b4", "vis_0a1b2c3d4e5f60718293a4b5"):
            task = visits.new_task(TENANT, self.account, visit_id, date(2026, 11, 23), "api", NOW - timedelta(hours=8),
                                   DEFAULT_POLICY, notes="Preguntar por la señora Ramos")
            task.update(visits_repo.index_fields(TENANT, "assigned", "sub-ana"), assigned_at=task["created_at"])
            self.visits[visit_id] = _stored(task)
        self.visit_id, self.other_visit_id = list(self.visits)
        self.photo = photo_store.prefix(TENANT, self.visit_id) + "ph_1a2b3c4d5e6f7081.jpg"
        self.visits[self.visit_id]["photos"] = {self.photo}  # recorded by PhotoFunction (a string set)
        self.writes: list[list[dict]] = []

        def batch_get(keys):
            found = {}
            for table, wanted in keys.items():
                if table == self.settings.visits_table:
                    found[table] = [self.visits[k["visit_id"]["S"]] for k in wanted if k["visit_id"]["S"] in self.visits]
                elif table == self.settings.agents_table:
                    found[table] = [self.agent]
                else:
                    found[table] = [self.account]
            return found

        monkeypatch.setattr(accounts_repo, "batch_get", batch_get)
        monkeypatch.setattr(accounts_repo, "read_account", lambda tenant_id, account_id: self.account)
        monkeypatch.setattr(visits_repo, "write_together", self.writes.append)
        monkeypatch.setattr(visits_repo, "create_task", lambda task: True)
        monkeypatch.setattr(visits_repo, "get_visit", lambda tenant_id, visit_id: self.visits.get(visit_id))
        monkeypatch.setattr(visits_repo, "agent_day", lambda tenant_id, agent_id, day: list(self.visits.values()))
        monkeypatch.setattr(visits_repo, "list_visits", lambda tenant_id, **kw: (list(self.visits.values()), "eyJ2In0"))
        monkeypatch.setattr(agents_repo, "list_agents", lambda tenant_id: [self.agent, self.supervisor])
        monkeypatch.setattr(agents_repo, "get_agent", lambda tenant_id, agent_id: self.agent if agent_id == "sub-ana" else None)
        monkeypatch.setattr(agents_repo, "reserve_slot", lambda agent, day, capacity: True)
        monkeypatch.setattr(agents_repo, "record_position", lambda *args: (True, None))
        from cobranza.visits import tracks_store
        self.points: list[dict] = []
        monkeypatch.setattr(tracks_store, "put_points", lambda tenant_id, agent_id, points: self.points.extend(points))
        monkeypatch.setattr(tracks_store, "read_day", lambda tenant_id, agent_id, day, limit, start=None, now=None: (
            [_stored(p) for p in self.points if p["day"] == day][:limit], {"track_key": {"S": "k"}, "captured_at": {"S": "t"}}))

    def written(self, role: str) -> dict:
        """The last transaction's item of ``role`` (visit, agent, account, timeline, ...)."""
        from boto3.dynamodb.types import TypeDeserializer

        items = self.writes[-1]
        kinds = {"timeline": self.settings.timeline_table, "visit": self.settings.visits_table}
        for item in items:
            (action, body), = item.items()
            if body["TableName"] == kinds[role] and (role != "visit" or action == "Update"):
                if action == "Put":
                    return {k: TypeDeserializer().deserialize(v) for k, v in body["Item"].items()}
                return {k: TypeDeserializer().deserialize(v) for k, v in body["ExpressionAttributeValues"].items()}
        raise AssertionError(f"no {role} write")

    @staticmethod
    def fix(point, minutes_ago=10, accuracy=12):
        return {"captured_at": (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z"),
                "location": {"lat": point[0], "lon": point[1], "accuracy_m": accuracy, "is_mock": False,
                             "provider": "gps"},
                "battery_pct": 64}

    def result_body(self, outcome, **extra):
        return {"idempotency_key": f"key-{outcome}", **self.fix(_north_of(ZOCALO, 60)), "outcome": outcome,
                "answers": {"holder_lives_here": True, "who_answered": "titular", "property_condition": "buena",
                            "zone_risk": "bajo", "facade_photo": self.photo},
                "photos": [self.photo], "notes": "Pagará en la sucursal el lunes.", **extra}


@pytest.fixture
def field(monkeypatch):
    from cobranza.core import aws

    world = _Field(monkeypatch)
    yield world
    aws.reset()


def test_a_new_visit_and_a_page_of_visits_match_their_schemas(spec, field):
    from cobranza.visits import tasks as visits

    created = _wire(visits.create_visit(TENANT, {"account_id": "A-1", "scheduled_on": "2026-11-24"}, now=NOW))
    _validate(spec, "Visit", created)
    assert created["status"] == "assigned" and created["agent_id"] == "sub-ana"
    documented = spec["components"]["schemas"]["Visit"]
    assert set(created) == set(documented["required"]) == set(documented["properties"]) - {"photo_urls"}
    _validate(spec, "VisitPage", _wire(visits.list_visits(TENANT, {"status": "assigned"}, 50)))


def test_a_check_in_a_result_and_the_visit_they_leave_match_their_schemas(spec, field):
    from cobranza.api import routes as api
    from cobranza.visits import results as visit_results
    from cobranza.visits import tasks as visits

    checkin = _wire(visit_results.check_in(field.principal, field.visit_id, field.fix(_north_of(ZOCALO, 40)), now=NOW))
    _validate(spec, "CheckInRecorded", checkin)
    assert checkin["status"] == "checked_in" and checkin["verification"]["status"] == "verified"
    assert checkin["verification"]["speed_kmh"] is not None  # from the agent's last ping
    visit = field.visits[field.visit_id]
    visit.update(checkin=field.written("visit")[":c"], status="checked_in")

    status, answer = visit_results.submit_result(field.principal, field.visit_id, field.result_body(
        "promise_to_pay", promise={"amount": "1500.00", "date": "2026-12-01"}), now=NOW)
    assert status == 201
    _validate(spec, "VisitResultRecorded", _wire(answer))
    assert answer["account"]["status_changed_to"] == "promised" and answer["promise"]["amount"] == "1500.00"
    documented = spec["components"]["schemas"]["VisitResultRecorded"]
    assert set(answer) == set(documented["required"]) == set(documented["properties"])
    visit.update(result=field.written("visit")[":r"], status="done")
    entry = api.timeline_view(field.written("timeline"))
    _validate(spec, "TimelineEntry", _wire(entry))
    assert entry["kind"] == "visit" and entry["amount"] == "1500.00"

    view = _wire(visits.get_visit(TENANT, field.visit_id))
    _validate(spec, "Visit", view)
    assert view["checkin"]["verification"]["status"] == "verified" and view["result"]["outcome"] == "promise_to_pay"
    assert view["photo_urls"][field.photo].startswith("https://api.example.com/api/v1/photos/")
    token = view["photo_urls"][field.photo].rsplit("/", 1)[1]
    schema = {**_resolve(spec, {"$ref": "#/components/parameters/PhotoToken"})["schema"], "components": spec["components"]}
    pytest.importorskip("openapi_schema_validator").validate(token, schema)

    status, revisit = visit_results.submit_result(field.principal, field.other_visit_id, field.result_body(
        "not_home", photos=[], answers={"holder_lives_here": False, "who_answered": "nadie",
                                        "property_condition": "regular", "zone_risk": "medio"}), now=NOW)
    _validate(spec, "VisitResultRecorded", _wire(revisit))
    assert revisit["revisit"]["status"] == "assigned" and revisit["promise"] is None
    field.visits[field.other_visit_id].update(result=field.written("visit")[":r"], status="done")
    _validate(spec, "Visit", _wire(visits.get_visit(TENANT, field.other_visit_id)))


def test_a_rejected_check_in_matches_its_schema(spec, field):
    from cobranza.visits import results as visit_results

    body = field.fix(_north_of(ZOCALO, 40))
    body["location"]["is_mock"] = True
    checkin = _wire(visit_results.check_in(field.principal, field.visit_id, body, now=NOW))
    _validate(spec, "CheckInRecorded", checkin)
    assert checkin["status"] == "assigned" and checkin["verification"]["reasons"] == ["mock_location"]


def test_the_agents_day_matches_its_schema(spec, field):
    from cobranza.visits import tasks as visits

    day = _wire(visits.my_visits(field.principal, {"date": "2026-11-23"}, now=NOW))
    _validate(spec, "AgentDay", day)
    assert [v["route_position"] for v in day["items"]] == [1, 2] and day["route_from"] == "last_position"
    item = day["items"][0]
    assert item["questionnaire"]["id"] == "address_verification" and item["questionnaire"]["questions"]
    assert item["account"]["balance"] == "10929.90"
    documented = spec["components"]["schemas"]["AgentVisit"]
    assert set(item) == set(documented["properties"]) == set(documented["required"]) | {"account"}


def test_the_photo_ticket_pings_and_positions_match_their_schemas(spec, field):
    from cobranza.visits import tasks as visits

    ticket = _wire(visits.photo_upload(field.principal, {"visit_id": field.visit_id, "content_type": "image/png"},
                                       now=NOW))
    _validate(spec, "PhotoUploadTicket", ticket)
    assert ticket["photo_key"].startswith(f"visits/{TENANT}/{field.visit_id}/") and ticket["photo_key"].endswith(".png")
    assert ticket["max_bytes"] == 10 * 1024 * 1024

    pings = [{"lat": 19.44, "lon": -99.14, "accuracy_m": 15, "battery_pct": 80, "captured_at": "2026-11-23T09:40:00-06:00"},
             {"lat": 91, "lon": -99.14, "accuracy_m": 15, "captured_at": "2026-11-23T09:41:00"}]
    recorded = _wire(visits.record_locations(field.principal, {"pings": pings}, now=NOW))
    _validate(spec, "LocationsRecorded", recorded)
    assert recorded["accepted"] == 1 and [r["index"] for r in recorded["rejected"]] == [1]

    positions = _wire(visits.agent_positions(TENANT, now=NOW))
    _validate(spec, "AgentPositions", positions)
    assert [a["position"] is not None for a in positions["items"]] == [True, False]


def test_an_agents_track_matches_its_schema(spec, field):
    from cobranza.visits import tasks as visits
    from cobranza.visits import tracks

    pings = [{"lat": 19.44, "lon": -99.14, "accuracy_m": 15, "battery_pct": 80, "captured_at": "2026-11-23T09:40:00-06:00"},
             {"lat": 19.45, "lon": -99.15, "accuracy_m": 8.5, "captured_at": "2026-11-23T09:45:00-06:00"}]
    visits.record_locations(field.principal, {"pings": pings}, now=NOW)
    track = _wire(tracks.agent_track(TENANT, None, "sub-ana", {"date": "2026-11-23"}, now=NOW))
    _validate(spec, "AgentTrack", track)
    assert [p["at"] for p in track["points"]] == ["2026-11-23T15:40:00Z", "2026-11-23T15:45:00Z"]
    assert track["points"][1]["battery_pct"] is None and track["next_token"]
    documented = spec["components"]["schemas"]["AgentTrack"]
    assert set(track) == set(documented["required"]) == set(documented["properties"])
    point = documented["properties"]["points"]["items"]
    assert set(track["points"][0]) == set(point["required"]) == set(point["properties"])


# ---------------------------------------------------------------- every input has a bound (SPEC §7)
def _unbounded(spec: dict, schema: dict, where: str, seen: tuple = ()) -> list[str]:
    """Places in a request schema with no documented bound: a string without maxLength (or an
    enum, or a format that bounds it), a number without minimum and maximum, an array without
    maxItems, an object open to any property without maxProperties."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return []
        return _unbounded(spec, _resolve(spec, schema), where, seen + (schema["$ref"],))
    problems: list[str] = []
    for key in ("oneOf", "anyOf", "allOf"):
        for index, part in enumerate(schema.get(key, [])):
            problems += _unbounded(spec, part, f"{where}/{key}[{index}]", seen)
    kind = schema.get("type")
    if "enum" in schema or (kind is None and not schema):
        return problems + ([] if "enum" in schema else [f"{where}: any value"])
    problems += _unbounded_scalar(schema, kind, where)
    if kind == "array":
        problems += _unbounded_array(spec, schema, where, seen)
    if kind == "object":
        problems += _unbounded_object(spec, schema, where, seen)
    return problems


def _unbounded_scalar(schema: dict, kind: object, where: str) -> list[str]:
    if kind == "string" and "maxLength" not in schema and schema.get("format") not in ("date", "date-time"):
        return [f"{where}: string without maxLength"]
    if kind in ("number", "integer") and not ("minimum" in schema and "maximum" in schema):
        return [f"{where}: number without minimum and maximum"]
    return []


def _unbounded_array(spec: dict, schema: dict, where: str, seen: tuple) -> list[str]:
    problems = [] if "maxItems" in schema else [f"{where}: array without maxItems"]
    return problems + _unbounded(spec, schema.get("items", {}), f"{where}[]", seen)


def _unbounded_object(spec: dict, schema: dict, where: str, seen: tuple) -> list[str]:
    problems: list[str] = []
    for name, part in schema.get("properties", {}).items():
        problems += _unbounded(spec, part, f"{where}.{name}", seen)
    extra = schema.get("additionalProperties", True)
    if extra is not False and "maxProperties" not in schema:
        problems.append(f"{where}: open object without maxProperties")
    if isinstance(extra, dict):
        problems += _unbounded(spec, extra, f"{where}.*", seen)
    return problems


def test_every_request_number_string_list_and_object_has_a_documented_bound(spec):
    problems = []
    for path, method, operation in _operations(spec):
        label = f"{method.upper()} {path}"
        for raw in [*spec["paths"][path].get("parameters", []), *operation.get("parameters", [])]:
            param = _resolve(spec, raw)
            problems += _unbounded(spec, param["schema"], f"{label} {param['in']}:{param['name']}")
        body = operation.get("requestBody")
        if body:
            for media, content in _resolve(spec, body)["content"].items():
                problems += _unbounded(spec, content["schema"], f"{label} body({media})")
    assert problems == []
