"""SPEC §7 through the Chalice app (chalice.test.Client), against moto."""
import json

import pytest
from chalice.test import Client

from tests.helpers import load_function

ROWS = b"cuenta,nombre,saldo,vencimiento,telefono,estado,latitud,longitud\n" \
       b"A1,Ana,25000,2026-10-01,55 1234 5678,Sonora,29.07,-110.95\n" \
       b"A2,Beto,100,2026-11-20,,CDMX,,\n" \
       b"A3,Caro,6000,2026-07-01,,Jalisco,,\n"


@pytest.fixture
def api(stack):
    app = load_function("api").app
    with Client(app) as client:
        yield client.http


def call(api, method, path, key=None, body=None):
    headers = {"x-api-key": key} if key else {}
    if body is not None:
        headers["content-type"] = "application/json"
    response = getattr(api, method)(path, headers=headers, body=json.dumps(body) if body is not None else None)
    return response.status_code, json.loads(response.body or b"null")


@pytest.fixture
def loaded(tenant, upload):
    upload("portfolios/acme/a.csv", ROWS)
    return tenant


def test_an_account_is_read_with_its_tenant_key(api, loaded):
    status, body = call(api, "get", "/v1/accounts/A1", loaded["api_key"])
    assert status == 200
    assert body["account_id"] == "A1" and body["balance"] == "25000.00" and body["currency"] == "MXN"
    assert body["stage"] in ("extrajudicial", "judicial") and body["days_past_due"] > 30
    assert body["address"]["timezone"] == "America/Hermosillo" and body["contact"]["phone"] == "+525512345678"
    assert body["location"] == {"lat": 29.07, "lon": -110.95, "source": "file"}


def test_no_key_or_a_wrong_key_is_401_in_the_error_shape(api, loaded):
    for key in (None, "cbz_not-a-key"):
        status, body = call(api, "get", "/v1/accounts/A1", key)
        assert status == 401 and body["error"]["code"] == "unauthorized" and body["error"]["details"] == []


def test_another_tenants_account_is_404(api, loaded, stack):
    from cobranza.tenants import store as tenants

    tenants.create_tenant("other", "Otra", "America/Mexico_City", [])
    other_key = tenants.issue_api_key("other")
    status, body = call(api, "get", "/v1/accounts/A1", other_key)
    assert status == 404 and body["error"]["code"] == "not_found"


def test_accounts_list_filters_and_paginates(api, loaded):
    key = loaded["api_key"]
    status, body = call(api, "get", "/v1/accounts?limit=2", key)
    assert status == 200 and len(body["items"]) == 2 and body["next_token"]
    status, rest = call(api, "get", f"/v1/accounts?limit=2&next_token={body['next_token']}", key)
    # shard after shard (the table's order: accounts.store.placement), every account once
    assert sorted(a["account_id"] for a in body["items"] + rest["items"]) == ["A1", "A2", "A3"]
    assert rest["next_token"] is None
    status, body = call(api, "get", "/v1/accounts?stage=administrative", key)
    assert [a["account_id"] for a in body["items"]] == ["A2"]
    status, body = call(api, "get", "/v1/accounts?limit=0", key)
    assert status == 400 and body["error"]["details"][0]["field"] == "limit"
    status, body = call(api, "get", "/v1/accounts?colour=red", key)
    assert status == 400


def test_a_forged_next_token_cannot_read_another_tenant(api, loaded):
    import base64

    forged = base64.urlsafe_b64encode(json.dumps({"tenant_id": {"S": "other"}, "account_id": {"S": "A"}}).encode()).decode()
    status, _ = call(api, "get", f"/v1/accounts?next_token={forged}", loaded["api_key"])
    assert status == 400


def test_presigned_upload_then_summary(api, loaded, upload):
    key = loaded["api_key"]
    status, created = call(api, "post", "/v1/uploads", key, {"filename": "cartera.csv"})
    assert status == 201 and created["key"].startswith("portfolios/acme/")
    assert created["post"]["fields"]["x-amz-meta-upload-id"] == created["upload_id"]
    status, pending = call(api, "get", f"/v1/uploads/{created['upload_id']}", key)
    assert status == 200 and pending["status"] == "pending"
    status, body = call(api, "post", "/v1/uploads", key, {"filename": "../x.exe"})
    assert status == 422 and body["error"]["details"][0]["field"] == "filename"


def test_upload_summary_is_read_by_its_id(api, loaded, upload):
    summary = upload("portfolios/acme/b.csv", ROWS)
    status, body = call(api, "get", f"/v1/uploads/{summary['upload_id']}", loaded["api_key"])
    assert status == 200 and body["status"] == "succeeded" and body["rows_total"] == 3 and body["rejects_url"].startswith("http")
    status, _ = call(api, "get", "/v1/uploads/up_nope", loaded["api_key"])
    assert status == 404


def test_policy_is_read_changed_and_validated(api, loaded):
    key = loaded["api_key"]
    status, body = call(api, "get", "/v1/policy", key)
    assert status == 200 and body["version"] == 0 and body["policy"]["amount_tiers"]["high_from"] == 20000
    status, body = call(api, "put", "/v1/policy", key, {"amount_tiers": {"medium_from": 1000, "high_from": 2000}})
    assert status == 200 and body["version"] == 1
    status, account = call(api, "get", "/v1/accounts/A3", key)
    assert account["amount_tier"] == "high"
    status, body = call(api, "put", "/v1/policy", key, {"amount_tiers": {"medium_from": "x"}})
    assert status == 422 and body["error"]["code"] == "invalid_policy" and body["error"]["details"]
    status, body = call(api, "put", "/v1/policy", key, {"contact_rules": {"window_start": "06:00"}})
    assert status == 422
    status, body = call(api, "put", "/v1/policy", key, {"policy": {"default_segment": "x"}, "version": 0})
    assert status == 409


def test_bad_json_gets_the_product_error_shape(api, loaded):
    response = api.put("/v1/policy", headers={"x-api-key": loaded["api_key"], "content-type": "application/json"}, body="{nope")
    body = json.loads(response.body)
    assert response.status_code == 400 and set(body["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("body, status, code, field", [
    ({"policy": 5}, 422, "invalid_policy", "policy"),
    ({"policy": {}, "version": "abc"}, 422, "invalid_policy", "version"),
    ([1, 2], 400, "bad_request", "body"),
    ("policy", 400, "bad_request", "body"),
])
def test_malformed_policy_bodies_are_client_errors(api, loaded, body, status, code, field):
    got, payload = call(api, "put", "/v1/policy", loaded["api_key"], body)
    assert (got, payload["error"]["code"]) == (status, code)
    assert payload["error"]["details"][0]["field"] == field
