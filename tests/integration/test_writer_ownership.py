"""SPEC §10: ingestion never erases what other writers recorded on an account meanwhile.

Each case runs another writer at the worst moment: after ingestion (or the nightly planner) read
the account and derived what to store, just before its write reaches DynamoDB. The write must
then notice (the account's revision moved), read the account again and derive again, so that the
file's new facts and the other writer's record both survive.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from tests.integration.test_ingest import accounts, csv_bytes

ORIGINAL = [("A1", "Ana", "100", "2026-10-01", "ana@ejemplo.mx"), ("A2", "Beto", "200", "2026-11-01", "")]
NEW_BALANCE = [("A1", "Ana", "80", "2026-10-01", "ana@ejemplo.mx"), ("A2", "Beto", "200", "2026-11-01", "")]
ONLY_A2 = [("A2", "Beto", "200", "2026-11-01", "")]


def _opt_out():
    from cobranza.accounts import store

    assert store.add_to_set("acme", "A1", "opted_out_channels", ["sms"], "2026-11-23T15:00:00Z")


def _claim():
    from cobranza.accounts import store

    assert store.swap_contact_log("acme", "A1", 0, ["2026-11-23T15:00:00Z|email|att-1"])


def _promise():
    from cobranza.payments import promises
    from cobranza.payments.rules import promise_of

    account = accounts()["A1"]
    promises.record("acme", account, promise_of(date(2026, 11, 23), Decimal("50"), date(2026, 11, 30)), "debtor_link",
                    datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc), 2)


def _dispute():
    from cobranza.accounts import store

    assert store.update_fields("acme", "A1", {"status": "disputed", "updated_at": "2026-11-23T15:00:00Z"})


def _visit_geo():
    from cobranza.accounts import store

    assert store.update_fields("acme", "A1", {"lat": Decimal("19.4326"), "lon": Decimal("-99.1332"),
                                              "geo_source": "visit"})


WRITERS = {
    "opt-out": (_opt_out, lambda a: a["opted_out_channels"] == {"sms"}),
    "sender claim": (_claim, lambda a: a["contact_log"] == ["2026-11-23T15:00:00Z|email|att-1"]),
    "promise": (_promise, lambda a: a["status"] == "promised" and a["promise_date"] == "2026-11-30"),
    "dispute": (_dispute, lambda a: a["status"] == "disputed"),
    "visit position": (_visit_geo, lambda a: (a["lat"], a["geo_source"]) == (Decimal("19.4326"), "visit")),
}


@pytest.fixture
def just_before_the_write(stack):
    """``arm(fn)``: ``fn`` runs once, right before the next request that writes account A1 (whatever
    the API: BatchWriteItem, UpdateItem or a transaction), after its writer read and derived it."""
    from cobranza.core import aws

    pending = []

    def hook(params, **_):
        if pending and '"A1"' in json.dumps(params, default=str):
            pending.pop()()

    for client in (aws.client("dynamodb"), aws.bulk_client("dynamodb")):
        for operation in ("BatchWriteItem", "UpdateItem", "PutItem", "TransactWriteItems"):
            client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", hook)
    return pending.append


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_a_file_update_keeps_what_another_writer_recorded_meanwhile(tenant, upload, just_before_the_write, writer):
    write, recorded = WRITERS[writer]
    upload("portfolios/acme/a.csv", csv_bytes(ORIGINAL))
    just_before_the_write(write)
    summary = upload("portfolios/acme/b.csv", csv_bytes(NEW_BALANCE))
    assert summary["accounts_updated"] == 1
    account = accounts()["A1"]
    assert account["balance"] == 80  # the file's fact
    assert recorded(account), account  # the other writer's record
    assert account["rev"] >= 2  # the other writer's write and the file's


@pytest.mark.parametrize("writer", ["opt-out", "promise", "sender claim", "visit position"])
def test_a_snapshot_withdrawal_keeps_what_another_writer_recorded_meanwhile(tenant, upload, just_before_the_write,
                                                                             writer):
    """The file withdraws an account it no longer lists; what was recorded on it meanwhile stays."""
    write, recorded = WRITERS[writer]
    upload("portfolios/acme/a.csv", csv_bytes(ORIGINAL))
    just_before_the_write(write)
    summary = upload("portfolios/acme/b.csv", csv_bytes(ONLY_A2))
    assert summary["accounts_withdrawn"] == 1
    account = accounts()["A1"]
    assert account["status"] == "withdrawn" and "next_action_on" not in account
    if writer == "promise":
        assert (account["promise_date"], account["promise_amount"]) == ("2026-11-30", 50)
    else:
        assert recorded(account), account


def test_an_unchanged_account_is_not_written_at_all(tenant, upload, just_before_the_write):
    upload("portfolios/acme/a.csv", csv_bytes(ORIGINAL))
    _opt_out()
    before = accounts()
    summary = upload("portfolios/acme/b.csv", csv_bytes(ORIGINAL))
    assert summary["accounts_unchanged"] == 2
    assert accounts() == before


def test_the_nightly_planner_leaves_a_files_derivation_when_the_file_changed_the_account_meanwhile(
        tenant, upload, monkeypatch, clock):
    """The planner reads a due account, a file moves its due date meanwhile: the planner's derived
    fields (from the old due date) are not written over the file's (from the new one)."""
    from cobranza.accounts import store
    from cobranza.campaign import planner

    upload("portfolios/acme/a.csv", csv_bytes(ORIGINAL))
    night = date.fromisoformat(accounts()["A1"]["next_action_on"])
    new_due = night + timedelta(days=10)
    original_update = store.update_fields
    moved = []

    def file_lands_first(tenant_id, account_id, fields, **kwargs):
        if account_id == "A1" and not moved and "seen_rev" in kwargs:
            moved.append(upload("portfolios/acme/b.csv", csv_bytes([("A1", "Ana", "100", new_due.isoformat(), ""),
                                                                    ORIGINAL[1]])))
        return original_update(tenant_id, account_id, fields, **kwargs)

    monkeypatch.setattr(store, "update_fields", file_lands_first)
    planner.run_nightly(event_time=datetime.combine(night, time(12, 0), tzinfo=timezone.utc))
    assert moved, "the planner wrote no derived fields for A1"
    account = accounts()["A1"]
    file_day = clock["value"].date()  # the day the file derived the account on
    assert (account["due_date"], account["derived_on"]) == (new_due.isoformat(), file_day.isoformat())
    assert (account["days_past_due"], account["aging_bucket"]) == ((file_day - new_due).days, "current")
    assert "email" not in account  # the file's removal stays removed


def test_the_nightly_planner_derives_again_after_another_writer(tenant, upload, monkeypatch):
    """A promise recorded between the planner's read and its write: the planner derives again from
    the promised account instead of writing over it."""
    from cobranza.accounts import store
    from cobranza.campaign import planner

    upload("portfolios/acme/a.csv", csv_bytes(ORIGINAL))
    night = date.fromisoformat(accounts()["A1"]["next_action_on"])
    original_update = store.update_fields
    promised = []

    def promise_lands_first(tenant_id, account_id, fields, **kwargs):
        if account_id == "A1" and not promised and "seen_rev" in kwargs:
            promised.append(_promise())
        return original_update(tenant_id, account_id, fields, **kwargs)

    monkeypatch.setattr(store, "update_fields", promise_lands_first)
    planner.run_nightly(event_time=datetime.combine(night, time(12, 0), tzinfo=timezone.utc))
    assert promised
    account = accounts()["A1"]
    assert (account["status"], account["promise_date"]) == ("promised", "2026-11-30")
    assert account["derived_on"] == night.isoformat()  # the planner's derivation, made on the fresh account
