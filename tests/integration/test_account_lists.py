"""SPEC §10: a filtered page of accounts reads through an index, so it costs the same however
large the portfolio and however rare the value; pages never repeat or skip an account."""
from __future__ import annotations

import pytest

from tests.integration.test_api import call
from tests.integration.test_ingest import accounts, csv_bytes


@pytest.fixture
def api(stack):
    from chalice.test import Client

    from tests.helpers import load_function

    with Client(load_function("api").app) as client:
        yield client.http


@pytest.fixture
def portfolio(tenant, upload):
    """600 accounts: 3 of them disputed, a quarter settled (balance 0), the rest active."""
    rows = [(f"C{i:04d}", "Nombre", "0" if i % 4 == 0 else "100", "2026-10-01", "") for i in range(600)]
    upload("portfolios/acme/a.csv", csv_bytes(rows))
    from cobranza.accounts import store

    for account_id in ("C0007", "C0301", "C0599"):
        assert store.update_fields("acme", account_id, {"status": "disputed"})
    return tenant


def read_all(api, key, query, limit):
    seen, token, pages = [], None, 0
    while True:
        path = f"/v1/accounts?{query}&limit={limit}" + (f"&next_token={token}" if token else "")
        status, body = call(api, "get", path, key)
        assert status == 200, body
        seen += [a["account_id"] for a in body["items"]]
        pages += 1
        token = body["next_token"]
        if not token:
            return seen, pages


@pytest.mark.parametrize("limit", [1, 7, 50, 100])
def test_every_filtered_account_once_whatever_the_page_size(api, portfolio, limit):
    stored = accounts()
    for query, value in (("status=settled", "settled"), ("status=disputed", "disputed"), ("status=active", "active")):
        expected = sorted(a for a, item in stored.items() if item.get("status", "active") == value)
        got, _ = read_all(api, portfolio["api_key"], query, limit)
        assert len(got) == len(set(got)), f"{query}: an account came twice"
        assert sorted(got) == expected, query


def test_two_filters_use_one_index_and_filter_the_page(api, portfolio):
    stored = accounts()
    some_stage = stored["C0001"]["stage"]
    expected = sorted(a for a, item in stored.items() if item["status"] == "active" and item["stage"] == some_stage)
    got, _ = read_all(api, portfolio["api_key"], f"status=active&stage={some_stage}", 40)
    assert sorted(got) == expected


def test_a_rare_value_costs_a_page_not_the_portfolio(api, portfolio):
    from cobranza.core import aws

    aws.items_read.clear()
    status, body = call(api, "get", "/v1/accounts?status=disputed&limit=50", portfolio["api_key"])
    assert status == 200 and sorted(a["account_id"] for a in body["items"]) == ["C0007", "C0301", "C0599"]
    assert body["next_token"] is None
    assert sum(aws.items_read.values()) <= 2 * 50  # index keys + the accounts themselves, never the 600


def test_an_account_that_changed_after_the_index_was_read_is_left_out(api, portfolio, monkeypatch):
    """The indexes are eventually consistent: the page re-checks each account as stored now."""
    from cobranza.accounts import store

    real_get = store.batch_get

    def changed_meanwhile(keys):
        found = real_get(keys)
        for items in found.values():
            for item in items:
                if item["account_id"] == "C0301":
                    item["status"] = "active"
        return found

    monkeypatch.setattr(store, "batch_get", changed_meanwhile)
    status, body = call(api, "get", "/v1/accounts?status=disputed", portfolio["api_key"])
    assert status == 200 and sorted(a["account_id"] for a in body["items"]) == ["C0007", "C0599"]


def test_a_status_change_by_any_writer_moves_the_account_between_lists(api, portfolio, upload):
    key = portfolio["api_key"]
    upload("portfolios/acme/b.csv", csv_bytes(
        [(f"C{i:04d}", "Nombre", "100" if i == 4 else ("0" if i % 4 == 0 else "100"), "2026-10-01", "") for i in range(600)]))
    settled, _ = read_all(api, key, "status=settled", 100)
    active, _ = read_all(api, key, "status=active", 100)
    assert "C0004" not in settled and "C0004" in active  # the file reopened it


def test_a_token_of_another_filter_or_a_forged_shard_is_refused(api, portfolio):
    import base64
    import json

    key = portfolio["api_key"]
    _, first = call(api, "get", "/v1/accounts?status=active&limit=5", key)
    status, _ = call(api, "get", f"/v1/accounts?status=settled&next_token={first['next_token']}", key)
    assert status == 400
    forged = base64.urlsafe_b64encode(json.dumps({"tenant_id": {"S": "acme"}, "by_status": {"S": "acme#active#99"}}).encode())
    status, _ = call(api, "get", f"/v1/accounts?status=active&next_token={forged.decode()}", key)
    assert status == 400


def test_accounts_stored_before_the_indexes_are_listed_once_reindexed(api, portfolio):
    """docs/deploy.md's migration: `python -m infra.admin accounts reindex` (accounts.store.reindex)."""
    import boto3

    from cobranza.accounts import store
    from cobranza.core.settings import get_settings

    table = boto3.resource("dynamodb").Table(get_settings().accounts_table)
    for account_id in ("C0007", "C0301"):  # as an older version stored them: no list keys
        table.update_item(Key={"tenant_shard": store.wire_key("acme", account_id)["tenant_shard"]["S"], "account_id": account_id},
                          UpdateExpression="REMOVE by_status, by_stage, by_segment, by_bucket")
    _, before = call(api, "get", "/v1/accounts?status=disputed", portfolio["api_key"])
    assert [a["account_id"] for a in before["items"]] == ["C0599"]
    assert store.reindex("acme") == {"accounts_read": 600, "accounts_reindexed": 2}
    _, after = call(api, "get", "/v1/accounts?status=disputed", portfolio["api_key"])
    assert sorted(a["account_id"] for a in after["items"]) == ["C0007", "C0301", "C0599"]
    assert store.reindex("acme")["accounts_reindexed"] == 0


def test_a_rare_combination_of_filters_answers_short_pages_that_still_add_up(api, portfolio, monkeypatch):
    """Two filters: the first one's index is read, the second checked on the accounts; a page
    examines at most MAX_KEYS_EXAMINED keys, then answers what it has and where to go on."""
    from cobranza.accounts import store

    monkeypatch.setattr(store, "MAX_KEYS_EXAMINED", 120)
    stage = accounts()["C0599"]["stage"]
    expected = sorted(a for a, item in accounts().items() if item["status"] == "active" and item["stage"] == stage)
    got, pages = read_all(api, portfolio["api_key"], f"status=active&stage={stage}", 100)
    assert sorted(got) == expected and len(got) == len(set(got)) and pages >= 4
    other = "judicial" if stage != "judicial" else "preventive"  # no account has it: every page is short
    nothing, pages = read_all(api, portfolio["api_key"], f"status=active&stage={other}", 100)
    assert nothing == [] and pages >= 3  # 450 active keys, about 200 examined a page: no page reads them all


@pytest.mark.parametrize("limit", [1, 9, 100])
def test_the_unfiltered_list_gives_every_account_once_shard_after_shard(api, portfolio, limit):
    got, pages = read_all(api, portfolio["api_key"], "", limit)
    assert len(got) == len(set(got)) == 600
    assert sorted(got) == sorted(accounts())
    assert pages <= -(-600 // limit) + 1


def test_no_partition_key_holds_more_than_a_small_share_of_the_tenant(portfolio):
    """SPEC §10: the table's partition key spreads a tenant over 64 shards (and ingestion's writes with it)."""
    from collections import Counter

    from cobranza.accounts.store import ACCOUNT_SHARDS, PARTITION, wire_key

    stored = accounts()
    shares = Counter(wire_key("acme", account_id)[PARTITION]["S"] for account_id in stored)
    assert len(shares) == ACCOUNT_SHARDS
    assert max(shares.values()) / len(stored) < 0.04  # 600 accounts: 1/64 each, give or take chance
    assert all(item["tenant_shard"].startswith("acme#") for item in stored.values())


def test_accounts_of_a_table_of_the_old_key_schema_are_copied_with_todays_keys(api, portfolio):
    """docs/deploy.md, "Upgrading a deployed stack": `python -m infra.admin accounts copy --from-table OLD`."""
    import boto3

    from cobranza.accounts import store

    client = boto3.client("dynamodb")
    client.create_table(TableName="old-accounts", BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "tenant_id", "AttributeType": "S"},
                                              {"AttributeName": "account_id", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "tenant_id", "KeyType": "HASH"},
                                   {"AttributeName": "account_id", "KeyType": "RANGE"}])
    old = {account_id: {k: v for k, v in item.items() if k not in ("tenant_shard", "by_status", "by_stage")}
           for account_id, item in accounts().items()}
    for item in old.values():  # as the old table held them: keyed by tenant, 16 due shards
        item["due_shard"] = "acme#03"
        item["account_id"] = "OLD-" + item["account_id"]
        client.put_item(TableName="old-accounts", Item=store.to_wire(item))
    assert store.copy_from("old-accounts", 0, 2)["accounts_read"] + store.copy_from("old-accounts", 1, 2)["accounts_read"] == 600
    copied = {a: i for a, i in accounts().items() if a.startswith("OLD-")}
    assert len(copied) == 600
    sample = copied["OLD-C0301"]
    assert sample["status"] == "disputed" and sample["tenant_shard"] == store.wire_key("acme", "OLD-C0301")["tenant_shard"]["S"]
    assert sample["due_shard"] == store.due_shard("acme", "OLD-C0301")
    disputed, _ = read_all(api, portfolio["api_key"], "status=disputed", 50)
    assert sorted(disputed) == ["C0007", "C0301", "C0599", "OLD-C0007", "OLD-C0301", "OLD-C0599"]
