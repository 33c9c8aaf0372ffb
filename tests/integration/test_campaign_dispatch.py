"""SPEC §5: the nightly planner and the reminder senders, end to end on moto.

Given a portfolio ingested from a file, when the nightly schedule fires and the senders drain the
channel queues, then each due reminder reaches the debtor once, inside the debtor's hours, and
never when a rule forbids it; every decision is in the account's timeline.
"""
import email
import json
from datetime import datetime, timezone
from email import policy as email_policy

import boto3
import pytest

from tests.helpers import LambdaContext, load_function, run_night, sqs_event

NIGHT = "2026-11-23T08:00:00Z"  # 02:00 in Mexico City: every reminder waits for 07:00
MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 10:00 Mexico City, 08:00 Tijuana
HEADER = "cuenta,nombre,saldo,vencimiento,correo,telefono,whatsapp_opt_in,estado"


def rows(n, due="2026-11-20", email="deudor@ejemplo.mx", phone="5512345678", state="CDMX", prefix="C"):
    lines = [HEADER] + [f"{prefix}{i},Persona {i},1000,{due},{email},{phone},si,{state}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def now():
    """The platform's clock (conftest's ``clock``) starts at MORNING; a test moves it with ``clock``."""
    return MORNING


@pytest.fixture
def queues(stack):
    env = stack.function_environment("CampaignFunction")
    return {"email": env["EMAIL_QUEUE_URL"], "sms": env["SMS_QUEUE_URL"], "whatsapp": env["WHATSAPP_QUEUE_URL"]}


def drain(url):
    sqs = boto3.client("sqs")
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])


def plan(event_time=NIGHT):
    """The night of ``event_time`` (run again if it already ran), through both functions."""
    return run_night(event_time)["tenants"]["acme"]


def send(messages, queue="cobranza-EmailQueue"):
    return load_function("dispatch").handler(sqs_event(messages, queue=queue), LambdaContext())


def sent_emails():
    from moto.backends import get_backend

    sent = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    return [email.message_from_string(m.raw_data, policy=email_policy.default) for m in sent]


def sent_sms():
    from moto.backends import get_backend

    return list(get_backend("sns")["123456789012"]["us-east-1"].sms_messages.values())


def timeline(tenant_id, account_id):
    from cobranza.accounts import timeline as timeline_repo

    return timeline_repo.list_entries(tenant_id, account_id, 100, None)[0]


def account(tenant_id, account_id):
    from cobranza.accounts import store as accounts_repo

    return accounts_repo.read_account(tenant_id, account_id)


# ---------------------------------------------------------------- planning
def test_a_night_plans_the_due_step_deferred_to_the_window_and_a_rerun_plans_nothing(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(3))  # due 2026-11-20: day +3 is "email+3"
    result = plan()
    assert result["accounts_due"] == 3 and result["attempts"] == 3
    assert result["by_status"] == {"deferred": 3}
    messages = drain(queues["email"])
    assert sorted(m["step"] for m in messages) == ["email+3"] * 3
    assert {m["send_at"] for m in messages} == {"2026-11-23T13:00:00Z"}  # 07:00 in Mexico City
    (entry,) = timeline("acme", "C0")
    assert entry["status"] == "deferred" and entry["reason"] == "outside_hours"
    assert entry["rules"] == "07:00-22:00 America/Mexico_City; 1/day; 7/7 days; promise grace 2 days"
    assert entry["expires_at"] == int(datetime(2027, 5, 22, 8, 0, tzinfo=timezone.utc).timestamp())  # 180 days

    again = plan()
    assert again["accounts_due"] == 0 and again["attempts"] == 0 and drain(queues["email"]) == []


def test_a_rerun_after_a_crash_queues_the_same_attempts_and_they_are_sent_once(stack, tenant, upload, clock, queues):
    from cobranza.accounts import store as accounts_repo

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    first = drain(queues["email"])
    # the first run died after queuing, before moving the account's next date on
    accounts_repo.update_fields("acme", "C0", {"next_action_on": "2026-11-23",
                                               "due_shard": accounts_repo.due_shard("acme", "C0")})
    rerun = plan()
    assert rerun["attempts"] == 0  # nothing new planned
    second = drain(queues["email"])
    assert [m["attempt_id"] for m in second] == [m["attempt_id"] for m in first]
    send(first)
    send(second)
    assert len(sent_emails()) == 1


def test_the_planner_reads_only_due_accounts(stack, tenant, upload, clock):
    from cobranza.core import aws

    upload("portfolios/acme/a.csv", rows(40, due="2026-11-20"))
    upload("portfolios/acme/delta/b.csv", rows(60, due="2027-06-01", prefix="F"))  # nothing due for months
    aws.request_counts.clear()
    aws.items_read.clear()
    result = plan()
    assert result["accounts_due"] == 40
    assert aws.items_read["Query"] == 40
    assert aws.request_counts["dynamodb.Scan"] <= 1  # the tenant list only, never the accounts


def _seed_not_due(stack, count):
    """``count`` accounts whose next date is months away, put straight into moto's table (the
    public API would take minutes for 100,000 items; the planner reads them through it)."""
    from moto.dynamodb.models import dynamodb_backends

    from cobranza.accounts.store import due_shard, to_wire, with_keys

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    table = stack.physical_name("AccountsTable")
    for i in range(count):
        account_id = f"N{i:06d}"
        backend.put_item(table, to_wire(with_keys({
            "tenant_id": "acme", "account_id": account_id, "debtor_name": "Persona", "balance": 1000,
            "currency": "MXN", "due_date": "2027-06-01", "timezone": "America/Mexico_City", "status": "active",
            "stage": "preventive", "due_shard": due_shard("acme", account_id), "next_action_on": "2027-05-29"})))


@pytest.mark.parametrize("not_due", [1_000, 100_000])
def test_the_planner_reads_the_same_items_however_many_accounts_are_not_due(stack, tenant, upload, clock, not_due):
    from cobranza.core import aws

    upload("portfolios/acme/delta/a.csv", rows(30))
    _seed_not_due(stack, not_due)
    aws.items_read.clear()
    result = plan()
    assert result["accounts_due"] == 30
    assert aws.items_read["Query"] == 30 and aws.items_read.get("Scan", 0) <= 1


def test_a_missed_night_sends_only_the_newest_step(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1, due="2026-11-10"))  # loaded on day +13: next step email+15
    plan("2026-11-27T08:00:00Z")  # day +17: nights +15 and +16 were missed
    (message,) = drain(queues["email"])
    assert message["step"] == "email+15"


def test_field_visit_steps_create_visit_tasks(stack, tenant, upload, clock):
    from cobranza.core.tables import VisitModel, bind_models

    lines = ["cuenta,nombre,saldo,vencimiento,latitud,longitud", "V1,Persona V,25000,2026-10-19,19.4326,-99.1332"]
    upload("portfolios/acme/a.csv", ("\n".join(lines) + "\n").encode())  # day +35 on 11-23, tier high
    result = plan()
    assert result["visits_created"] == 1 and result["by_channel"] == {"field_visit": 1}
    bind_models()
    (visit,) = list(VisitModel.query("acme"))
    assert visit.account_id == "V1" and visit.status == "unassigned"
    assert timeline("acme", "V1")[0]["status"] == "visit_created"
    assert plan()["visits_created"] == 0


def test_an_account_reaching_the_judicial_stage_is_handed_off_with_an_alarm_and_gets_no_reminder(stack, tenant, upload, clock, queues):
    from cobranza.accounts import alarms

    upload("portfolios/acme/a.csv", rows(1, due="2026-08-24"))  # day +91 on 11-23: judicial
    result = plan()
    assert result["legal_handoffs"] == 1 and result["attempts"] == 0
    assert [a.code for a in alarms.list_alarms("acme")] == ["judicial_handoff"]
    assert account("acme", "C0")["legal_handoff_on"] == "2026-11-23"
    assert [e["kind"] for e in timeline("acme", "C0")] == ["legal_handoff"]
    assert all(drain(url) == [] for url in queues.values())


def test_an_account_already_deep_in_the_judicial_stage_is_handed_off_on_the_next_night(stack, tenant, upload, clock):
    from cobranza.accounts import alarms

    upload("portfolios/acme/a.csv", rows(2, due="2026-05-01"))  # 206 days late: no stage change ahead
    assert plan()["legal_handoffs"] == 2
    assert sorted(a.subject for a in alarms.list_alarms("acme")) == ["account#C0", "account#C1"]
    assert account("acme", "C0").get("next_action_on") is None  # nothing more to do by the passage of time
    assert plan("2026-11-24T08:00:00Z")["accounts_due"] == 0


# ---------------------------------------------------------------- sending
def test_the_same_message_delivered_three_times_sends_one_email(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    for _ in range(3):
        assert send([message]) == {"batchItemFailures": []}
    (mail,) = sent_emails()
    text = mail.get_body(("plain",)).get_content()
    assert "Persona 0" in text and "1,000.00 MXN" in text and "/v1/self/" in text
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    (entry,) = timeline("acme", "C0")
    assert entry["status"] == "sent" and entry["provider_message_id"]
    assert len(account("acme", "C0")["contact_log"]) == 1


def test_the_html_email_escapes_what_the_lender_sent(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1).replace(b"Persona 0", b"<script>alert(1)</script>"))
    plan()
    send(drain(queues["email"]))
    (mail,) = sent_emails()
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_message_outside_the_debtors_hours_is_held_in_the_queue_until_the_window_opens(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1, state="Baja California"))  # Tijuana: UTC-8 in November
    plan()
    (message,) = drain(queues["email"])
    assert message["send_at"] == "2026-11-23T15:00:00Z"
    clock["value"] = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 06:00 in Tijuana
    from cobranza.campaign import sender as dispatch

    with pytest.raises(dispatch.Hold) as held:
        dispatch.deliver(message)
    assert held.value.seconds == 3601 and sent_emails() == []
    clock["value"] = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)  # 07:00 in Tijuana
    assert dispatch.deliver(message)["status"] == "sent"


def test_the_sender_delays_each_held_message_to_its_window_once_per_batch(stack, tenant, upload, clock, queues, monkeypatch):
    """The batch's held messages get their visibility set when the batch ends, and the next batch
    starts with none of them (the delays belong to the batch processor, not to the module)."""
    from cobranza.core import queues as queue_helpers

    upload("portfolios/acme/a.csv", rows(1, state="Baja California"))
    plan()
    (message,) = drain(queues["email"])
    calls = []
    monkeypatch.setattr(queue_helpers, "set_visibility", lambda delays: calls.append(list(delays)))
    clock["value"] = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)  # 06:00 in Tijuana: held 3601 s
    held = send([message])
    assert [f["itemIdentifier"] for f in held["batchItemFailures"]] and sent_emails() == []
    assert calls == [[("arn:aws:sqs:us-east-1:123456789012:cobranza-EmailQueue", "rh-0", 3601)]]
    clock["value"] = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    assert send([message]) == {"batchItemFailures": []} and len(sent_emails()) == 1
    assert calls[1] == []


@pytest.mark.parametrize("status, reason", [
    ("paid", "status_paid"), ("settled", "status_settled"), ("disputed", "status_disputed"),
    ("withdrawn", "status_withdrawn"), ("legal", "status_legal"), ("promised", "status_promised"),
])
def test_no_reminder_reaches_an_account_whose_status_stops_contact(stack, tenant, upload, clock, queues, status, reason):
    from cobranza.accounts import store as accounts_repo

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    accounts_repo.update_fields("acme", "C0", {"status": status, "promise_date": "2026-11-30"})
    assert send([message]) == {"batchItemFailures": []}
    assert sent_emails() == []
    (entry,) = timeline("acme", "C0")
    assert (entry["status"], entry["reason"]) == ("skipped", reason)


def test_an_account_missing_from_the_newest_snapshot_is_withdrawn_and_not_contacted(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(4))
    plan()
    messages = drain(queues["email"])
    upload("portfolios/acme/b.csv", rows(3))  # C3 left the lender's portfolio
    send(messages)
    assert len(sent_emails()) == 3
    assert timeline("acme", "C3")[0]["reason"] == "status_withdrawn"


def test_a_partial_payment_recorded_after_planning_stops_the_queued_reminder(stack, tenant, upload, clock, queues):
    from decimal import Decimal

    from cobranza.payments.rules import Payment
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", rows(2))
    plan()
    messages = drain(queues["email"])
    paid = record("acme", [Payment("F-1", "C0", Decimal("100"), MORNING, "spei")], "api", "2026-11-23T15:00:00Z")
    assert paid[0].status == "applied" and paid[0].account_status == "active"  # 900 still owed
    send(messages)
    assert [m["To"] for m in sent_emails()] == ["deudor@ejemplo.mx"]  # C1's only
    entry = next(e for e in timeline("acme", "C0") if e["kind"] == "contact")
    assert (entry["status"], entry["reason"]) == ("skipped", "payment_recorded")


def test_a_payment_recorded_before_the_night_does_not_stop_that_nights_reminder(stack, tenant, upload, clock, queues):
    from decimal import Decimal

    from cobranza.payments.rules import Payment
    from cobranza.payments.service import record

    upload("portfolios/acme/a.csv", rows(1))
    clock["value"] = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)  # before the night (08:00)
    record("acme", [Payment("F-1", "C0", Decimal("100"), clock["value"], "spei")], "api", "2026-11-23T07:00:00Z")
    clock["value"] = MORNING
    plan()
    send(drain(queues["email"]))
    assert len(sent_emails()) == 1


def test_an_opt_out_through_the_api_stops_the_next_send(stack, tenant, upload, clock, queues):
    from chalice.test import Client

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    app = load_function("api").app
    with Client(app) as client:
        response = client.http.post("/v1/accounts/C0/opt-outs", headers={"x-api-key": tenant["api_key"],
                                    "content-type": "application/json"},
                                    body=json.dumps({"channels": ["email"], "source": "sms_keyword"}))
        assert response.status_code == 201 and response.json_body["opted_out_channels"] == ["email"]
        send([message])
        assert sent_emails() == []
        body = client.http.get("/v1/accounts/C0/timeline", headers={"x-api-key": tenant["api_key"]}).json_body
    kinds = [(i["kind"], i["status"], i.get("reason")) for i in body["items"]]
    assert ("opt_out", "recorded", None) in kinds and ("contact", "skipped", "opted_out") in kinds


def test_the_weekly_cap_counts_every_channel(stack, tenant, upload, clock, queues):
    from cobranza.accounts import store as accounts_repo
    from cobranza.tenants import store as tenants

    tenants.save_policy(tenants.get_tenant("acme"), {"contact_rules": {"max_per_7_days": 3}}, None)
    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    log = ["2026-11-17T17:00:00Z|sms|att_a", "2026-11-19T17:00:00Z|whatsapp|att_b", "2026-11-21T17:00:00Z|email|att_c"]
    accounts_repo.swap_contact_log("acme", "C0", 0, log)
    send([message])
    assert sent_emails() == []
    assert timeline("acme", "C0")[0]["reason"] == "weekly_cap"


def test_six_contacts_in_the_last_six_days_still_allow_a_seventh(stack, tenant, upload, clock, queues):
    from cobranza.accounts import store as accounts_repo

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    log = [f"2026-11-{day}T17:00:00Z|{channel}|att_{day}" for day, channel in
           zip(range(17, 23), ["sms", "whatsapp", "email"] * 2)]
    accounts_repo.swap_contact_log("acme", "C0", 0, log)
    send([message])
    assert len(sent_emails()) == 1
    accounts_repo.update_fields("acme", "C0", {"contact_log": None, "contact_version": None})


def test_one_automated_contact_per_day(stack, tenant, upload, clock, queues):
    from cobranza.accounts import store as accounts_repo

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    accounts_repo.swap_contact_log("acme", "C0", 0, ["2026-11-23T14:00:00Z|sms|att_other"])  # 08:00 CDMX today
    send([message])
    assert timeline("acme", "C0")[0]["reason"] == "daily_cap"


def test_sms_goes_through_sns_in_gsm7_with_the_opt_out_word(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1, due="2026-11-24"))  # day -1: "sms-1"
    plan()
    (message,) = drain(queues["sms"])
    assert send([message], queue="cobranza-SmsQueue") == {"batchItemFailures": []}
    ((phone, text),) = sent_sms()
    assert phone == "+525512345678" and "BAJA" in text and "Financiera Acme" in text
    from cobranza.channels.sms import segments, to_gsm7

    assert to_gsm7(text) == text and segments(text) <= 2


@pytest.fixture
def whatsapp(monkeypatch):
    from cobranza.core.settings import get_settings
    from infra.local.whatsapp import WhatsAppRecorder

    recorder = WhatsAppRecorder().start()
    monkeypatch.setenv("WHATSAPP_API_URL", recorder.url)
    get_settings.cache_clear()
    yield recorder
    recorder.stop()
    get_settings.cache_clear()


def test_whatsapp_goes_to_the_provider_api_in_the_meta_cloud_shape(stack, tenant, upload, clock, queues, whatsapp):
    upload("portfolios/acme/a.csv", rows(1, due="2026-11-16"))  # day +7: "whatsapp+7"
    plan()
    (message,) = drain(queues["whatsapp"])
    assert send([message], queue="cobranza-WhatsAppQueue") == {"batchItemFailures": []}
    (record,) = whatsapp.messages
    payload = record["payload"]
    assert payload["messaging_product"] == "whatsapp" and payload["type"] == "template"
    assert payload["to"] == "525512345678" and payload["biz_opaque_callback_data"] == message["attempt_id"]
    assert payload["template"]["language"]["code"] == "es_MX"
    assert timeline("acme", "C0")[0]["provider_message_id"] == record["id"]


def test_a_permanent_provider_refusal_marks_the_channel_unusable(stack, tenant, upload, clock, queues, whatsapp):
    upload("portfolios/acme/a.csv", rows(1, due="2026-11-16", phone="5512340000"))
    plan()
    (message,) = drain(queues["whatsapp"])
    assert send([message], queue="cobranza-WhatsAppQueue") == {"batchItemFailures": []}
    entry = timeline("acme", "C0")[0]
    assert (entry["status"], entry["reason"]) == ("failed", "address_invalid")
    stored = account("acme", "C0")
    assert stored["unusable_channels"] == {"whatsapp"} and not stored.get("contact_log")


def test_a_transient_provider_error_is_retried_later_and_releases_the_claim(stack, tenant, upload, clock, queues, whatsapp):
    upload("portfolios/acme/a.csv", rows(1, due="2026-11-16", phone="5512340429"))
    plan()
    (message,) = drain(queues["whatsapp"])
    event = sqs_event([message], queue="cobranza-WhatsAppQueue")
    response = load_function("dispatch").handler(event, LambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    entry = timeline("acme", "C0")[0]
    assert entry["status"] == "deferred" and entry["last_error"] == "provider_throttled"
    assert not account("acme", "C0").get("contact_log")


def test_a_broken_message_fails_alone(stack, tenant, upload, clock, queues):
    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (good,) = drain(queues["email"])
    event = sqs_event([good, {"not": "a reminder"}])
    response = load_function("dispatch").handler(event, LambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][1]["messageId"]}]
    assert len(sent_emails()) == 1


# ---------------------------------------------------------------- the debtor's link
def test_the_debtor_link_shows_the_balance_and_takes_a_one_click_unsubscribe(stack, tenant, upload, clock, queues):
    from chalice.test import Client

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    send(drain(queues["email"]))
    (mail,) = sent_emails()
    link = mail["List-Unsubscribe"].strip("<>")
    path = link[link.index("/v1/self/"):]
    token_path = path.split("/opt-out")[0]
    with Client(load_function("api").app) as client:
        view = client.http.get(token_path)
        assert view.status_code == 200 and view.json_body["balance"] == "1000.00"
        one_click = client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                                     body="List-Unsubscribe=One-Click")
        assert one_click.status_code == 200 and one_click.json_body["opted_out_channels"] == ["email"]
        forged = client.http.get(token_path[:-3] + "xyz")
        assert forged.status_code == 401
        promise = client.http.post(token_path + "/promise", headers={"content-type": "application/json"},
                                   body=json.dumps({"amount": "500", "date": "2026-11-30"}))
        assert promise.status_code == 201
    stored = account("acme", "C0")
    assert stored["status"] == "promised" and stored["promise_date"] == "2026-11-30"


def test_a_copy_that_finds_a_fresh_claim_comes_back_later_and_an_old_claim_is_an_unknown_outcome(stack, tenant, upload, clock, queues):
    from cobranza.accounts import store as accounts_repo
    from cobranza.campaign import sender as dispatch

    upload("portfolios/acme/a.csv", rows(1))
    plan()
    (message,) = drain(queues["email"])
    claim = f"2026-11-23T15:58:00Z|email|{message['attempt_id']}"  # another copy claimed it 2 minutes ago
    accounts_repo.swap_contact_log("acme", "C0", 0, [claim])
    with pytest.raises(dispatch.RetryLater):
        dispatch.deliver(message)
    assert timeline("acme", "C0")[0]["status"] == "deferred" and sent_emails() == []
    clock["value"] = MORNING.replace(hour=17)  # that copy never came back: it died after claiming
    assert dispatch.deliver(message)["reason"] == "outcome_unknown"
    assert sent_emails() == []


def test_the_claim_refuses_an_account_that_promised_a_moment_before(stack, tenant, upload, clock):
    from cobranza.accounts import store as accounts_repo

    upload("portfolios/acme/a.csv", rows(1))
    accounts_repo.update_fields("acme", "C0", {"status": "promised", "promise_date": "2026-11-30"})
    entry = "2026-11-23T16:00:00Z|email|att_x"
    assert not accounts_repo.swap_contact_log("acme", "C0", 0, [entry], "email", promise_cutoff="2026-11-21")
    accounts_repo.update_fields("acme", "C0", {"promise_date": "2026-11-20"})  # broken: grace over on the 23rd
    assert accounts_repo.swap_contact_log("acme", "C0", 0, [entry], "email", promise_cutoff="2026-11-21")


def test_no_field_visit_for_an_account_under_a_promise(stack, tenant, upload, clock):
    from cobranza.accounts import store as accounts_repo

    lines = ["cuenta,nombre,saldo,vencimiento,latitud,longitud", "V1,Persona V,25000,2026-10-19,19.4326,-99.1332"]
    upload("portfolios/acme/a.csv", ("\n".join(lines) + "\n").encode())
    accounts_repo.update_fields("acme", "V1", {"status": "promised", "promise_date": "2026-11-25"})
    result = plan()
    assert result["visits_created"] == 0 and result["skipped_by_reason"] == {"status_promised": 1}


def test_an_unsubscribe_link_works_after_the_self_service_link_expired(stack, tenant, upload, clock):
    from chalice.test import Client

    from cobranza.debtor import links, selfservice

    upload("portfolios/acme/a.csv", rows(1))
    token = links.sign(selfservice.link_key(), "acme", "C0", MORNING.replace(year=2025))  # expired a year ago
    with Client(load_function("api").app) as client:
        assert client.http.get(f"/v1/self/{token}").status_code == 401
        response = client.http.post(f"/v1/self/{token}/opt-out?channel=email",
                                    headers={"content-type": "application/x-www-form-urlencoded"},
                                    body="List-Unsubscribe=One-Click")
    assert response.status_code == 200 and account("acme", "C0")["opted_out_channels"] == {"email"}
