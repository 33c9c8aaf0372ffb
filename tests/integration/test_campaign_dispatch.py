"""SPEC §4-5 skeleton: the nightly run reads only what is due; reminders are sent once."""
import json

import boto3

from tests.helpers import LambdaContext, load_function, scheduled_event, sqs_event


def rows(n, due="2026-11-20", email="deudor@ejemplo.mx"):
    lines = ["cuenta,nombre,saldo,vencimiento,correo"] + [f"C{i},Persona {i},1000,{due},{email}" for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def queued(stack):
    sqs = boto3.client("sqs")
    url = stack.function_environment("CampaignFunction")["REMINDER_QUEUE_URL"]
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])


def test_nightly_run_plans_todays_steps_once(stack, tenant, upload):
    upload("portfolios/acme/a.csv", rows(3))  # due 2026-11-20: +3 on 11-23 is "email+3"
    campaign = load_function("campaign")
    result = campaign.handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    assert result["tenants"]["acme"]["accounts_due"] == 3
    messages = queued(stack)
    assert sorted(m["step"] for m in messages) == ["email+3"] * 3
    assert len({m["attempt_id"] for m in messages}) == 3
    # the same night again plans nothing: the accounts' next date moved on
    again = campaign.handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    assert again["tenants"]["acme"]["accounts_due"] == 0 and queued(stack) == []


def test_the_planner_reads_only_due_accounts(stack, tenant, upload):
    from cobranza import aws

    upload("portfolios/acme/a.csv", rows(40, due="2026-11-20") + rows(0)[0:0])
    upload("portfolios/acme/delta/b.csv", rows(60, due="2027-06-01").replace(b"C", b"F"))  # far in the future
    aws.request_counts.clear()
    campaign = load_function("campaign")
    result = campaign.handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    assert result["tenants"]["acme"]["accounts_due"] == 40
    assert aws.request_counts["dynamodb.Scan"] <= 1  # the tenant list only, never the accounts


def test_same_reminder_delivered_three_times_sends_one_email(stack, tenant, upload):

    from moto.backends import get_backend

    upload("portfolios/acme/a.csv", rows(1))
    load_function("campaign").handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    (message,) = queued(stack)
    dispatch = load_function("dispatch")
    for _ in range(3):
        response = dispatch.handler(sqs_event([message]), LambdaContext())
        assert response == {"batchItemFailures": []}
    sent = get_backend("ses")["123456789012"]["us-east-1"].sent_messages
    assert len(sent) == 1 and "Persona 0" in sent[0].body and "BAJA" in sent[0].body


def test_a_paid_account_gets_no_reminder(stack, tenant, upload):
    from moto.backends import get_backend

    upload("portfolios/acme/a.csv", rows(1))
    load_function("campaign").handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    (message,) = queued(stack)
    upload("portfolios/acme/b.csv", rows(1).replace(b",1000,", b",0,"))  # balance 0: settled
    load_function("dispatch").handler(sqs_event([message]), LambdaContext())
    assert get_backend("ses")["123456789012"]["us-east-1"].sent_messages == []


def test_a_broken_message_fails_alone(stack, tenant, upload):
    upload("portfolios/acme/a.csv", rows(1))
    load_function("campaign").handler(scheduled_event("2026-11-23T08:00:00Z"), LambdaContext())
    (good,) = queued(stack)
    event = sqs_event([good, {"not": "a reminder"}])
    response = load_function("dispatch").handler(event, LambdaContext())
    assert response["batchItemFailures"] == [{"itemIdentifier": event["Records"][1]["messageId"]}]
