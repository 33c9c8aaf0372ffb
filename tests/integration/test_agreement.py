"""The code and template.yaml agree: handlers, routes, tables and sample events."""
import json
from pathlib import Path

import pytest

from infra.local.template import LocalTemplate
from tests.helpers import ROOT, LambdaContext, load_function

TEMPLATE = LocalTemplate(ROOT / "template.yaml")
FUNCTIONS = TEMPLATE.functions
EVENTS = ROOT / "events"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_imports(stack, logical_id):
    spec = FUNCTIONS[logical_id]
    module = load_function(Path(spec.code_dir).name)
    assert callable(getattr(module, spec.handler_attribute))


#: The functions that run the Chalice app (one app; its routes split in two only so that each
#: function's resource policy, one statement per route event, stays under Lambda's 20 KB).
CHALICE_FUNCTIONS = ("ApiFunction", "FieldApiFunction")


def template_routes(method_filter=lambda method: method != "ANY", functions=CHALICE_FUNCTIONS):
    """The API routes of ``functions`` (the Chalice app's; the console's page is ConsoleFunction's)."""
    routes = set()
    for spec in [FUNCTIONS[function] for function in functions]:
        for event in spec.events_of_type("Api").values():
            if method_filter(event.properties["Method"].upper()):
                routes.add((event.properties["Path"], event.properties["Method"].upper()))
    return routes


def test_chalice_routes_and_template_routes_are_the_same(stack):
    app = load_function("api").app
    chalice_routes = {(path, method) for path, entries in app.routes.items() for method in entries}
    assert chalice_routes == template_routes()
    assert not any("{proxy+}" in path for path, _ in chalice_routes)


def test_every_route_path_takes_any_other_method_so_the_function_answers_405(stack):
    """API Gateway alone answers an undeclared method with 403; with ANY on each path it reaches
    Chalice, which answers 405 with the Allow header."""
    any_paths = {path for path, _ in template_routes(lambda method: method == "ANY")}
    assert any_paths == {path for path, _ in template_routes()}
    app = load_function("api").app
    event = json.loads((ROOT / "events" / "api_get_account.json").read_text())
    event.update(httpMethod="DELETE", requestContext=dict(event["requestContext"], httpMethod="DELETE"))
    answer = app(event, LambdaContext())
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "GET"
    assert json.loads(answer["body"])["error"]["code"] == "method_not_allowed"
    console = {path for path, _ in template_routes(lambda method: method == "ANY", ["ConsoleFunction"])}
    assert console == {path for path, _ in template_routes(functions=["ConsoleFunction"])} == {"/console", "/console/{asset+}"}
    page = json.loads((ROOT / "events" / "console_get_asset.json").read_text())
    page.update(httpMethod="POST", requestContext=dict(page["requestContext"], httpMethod="POST"))
    answer = load_function("console").handler(page, LambdaContext())
    assert answer["statusCode"] == 405 and json.loads(answer["body"])["error"]["code"] == "method_not_allowed"
    assert answer["headers"]["Allow"] == "GET, HEAD"


def test_pynamodb_models_match_the_template_tables(stack):
    from cobranza.core.tables import ALL_MODELS, model_key_schema

    tables = {logical_id: TEMPLATE.resources[logical_id].properties for logical_id in TEMPLATE.tables}
    by_setting = {"accounts_table": "AccountsTable", "tenants_table": "TenantsTable",
                  "api_keys_table": "ApiKeysTable", "uploads_table": "UploadsTable",
                  "alarms_table": "AlarmsTable", "timeline_table": "TimelineTable", "visits_table": "VisitsTable",
                  "agents_table": "AgentsTable"}
    for model in ALL_MODELS:
        declared = tables[by_setting[model.Meta.settings_field]]
        schema = model_key_schema(model)
        assert schema["KeySchema"] == declared["KeySchema"], model.__name__
        declared_indexes = [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"]} for i in declared.get("GlobalSecondaryIndexes", [])]
        by_name = lambda indexes: sorted(indexes, key=lambda index: index["IndexName"])  # noqa: E731
        assert by_name(schema["GlobalSecondaryIndexes"]) == by_name(declared_indexes), model.__name__
        types = {a["AttributeName"]: a["AttributeType"] for a in declared["AttributeDefinitions"]}
        for name, attr in model.get_attributes().items():
            if name in types:
                assert attr.attr_type == types[name], f"{model.__name__}.{name}"


def test_every_function_trigger_has_a_sample_event():
    names = {p.name for p in EVENTS.glob("*.json")}
    for logical_id, spec in FUNCTIONS.items():
        prefix = Path(spec.code_dir).name + "_"
        assert any(n.startswith(prefix) for n in names), f"no events/{prefix}*.json for {logical_id}"


@pytest.mark.parametrize("event_file", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event_is_accepted_by_its_handler(stack, tenant, event_file):
    event = json.loads((EVENTS / event_file).read_text())
    function = max((Path(spec.code_dir).name for spec in FUNCTIONS.values()),
                   key=lambda name: len(name) if event_file.startswith(name + "_") else -1)
    module = load_function(function)
    if function == "api":
        event["headers"]["x-api-key"] = tenant["api_key"]
        event.setdefault("multiValueHeaders", {})["x-api-key"] = [tenant["api_key"]]
        response = module.app(event, LambdaContext())
        assert response["statusCode"] in (200, 404), response  # 404: the sample account is not loaded
        assert "error" not in json.loads(response["body"]) or response["statusCode"] == 404
    elif function == "console":
        response = module.handler(event, LambdaContext())
        assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("text/javascript")
    else:
        result = module.handler(event, LambdaContext())
        if function == "ingest_worker":
            assert result == ({"stopped_uploads_ended": []} if "detail-type" in event else {"batchItemFailures": []})
        if function == "dispatch":  # parsed; the sample attempts were never planned, so they fail (-> DLQ)
            ids = {r["messageId"] for r in event["Records"]}
            assert {f["itemIdentifier"] for f in result["batchItemFailures"]} <= ids
        assert result is not None


def test_the_chalice_app_s_functions_share_code_environment_and_permissions_and_split_the_routes():
    """Each route reaches exactly one of them; each function's resource policy (SAM writes one
    statement, about 390 bytes, per route event) stays well under Lambda's 20,480 bytes."""
    api, field = (FUNCTIONS[name] for name in CHALICE_FUNCTIONS)
    assert (api.code_dir, api.handler) == (field.code_dir, field.handler)
    assert TEMPLATE.function_environment("ApiFunction") == TEMPLATE.function_environment("FieldApiFunction")
    properties = {name: TEMPLATE.resources[name].properties for name in CHALICE_FUNCTIONS}
    assert properties["ApiFunction"]["Policies"] == properties["FieldApiFunction"]["Policies"]
    split = [template_routes(lambda method: True, [name]) for name in CHALICE_FUNCTIONS]
    assert not split[0] & split[1]
    for name in CHALICE_FUNCTIONS:
        assert len(FUNCTIONS[name].events_of_type("Api")) * 390 < 20_480 * 0.8, name

