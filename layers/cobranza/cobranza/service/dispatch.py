"""Delivers one planned reminder (a message from the reminder queue), at most once.

The attempt id is the idempotency key (Powertools idempotency on DynamoDB): SQS may deliver a
message again, the reminder still goes out once. The account is read again at send time, so
a payment or opt-out recorded after planning stops the message.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from .. import aws
from ..channels import email as email_channel
from ..config import get_settings
from ..domain.policy import effective_policy
from ..observability import logger, metrics
from ..storage import accounts as accounts_repo
from ..storage import tenants as tenants_repo

IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="attempt_id", raise_on_no_idempotency_key=True, expires_after_seconds=14 * 24 * 3600
)
SENDABLE_STATUSES = frozenset({"active"})


@lru_cache(maxsize=1)
def persistence() -> DynamoDBPersistenceLayer:
    """Built on first use (never at import), with the platform's counted client."""
    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table, boto3_client=aws.client("dynamodb"))


def deliver(message: dict[str, Any]) -> dict[str, Any]:
    """Delivers a reminder once per attempt id, whatever the redeliveries."""
    once = idempotent_function(data_keyword_argument="message", persistence_store=persistence(), config=IDEMPOTENCY_CONFIG)(_deliver)
    return once(message=message)


def _deliver(message: dict[str, Any]) -> dict[str, Any]:
    attempt = {"attempt_id": message["attempt_id"], "channel": message["channel"], "step": message.get("step")}
    tenant = tenants_repo.get_tenant(message["tenant_id"])
    account = accounts_repo.get_account(message["tenant_id"], message["account_id"])
    if tenant is None or account is None:
        return _skipped(attempt, "account_not_found")
    if account.status not in SENDABLE_STATUSES:
        return _skipped(attempt, f"status_{account.status}")
    if message["channel"] in (account.opted_out_channels or set()):
        return _skipped(attempt, "opted_out")
    if message["channel"] != "email":
        return _skipped(attempt, "channel_not_enabled")
    if not account.email:
        return _skipped(attempt, "no_address")
    policy = effective_policy(tenant.policy)
    rendered = email_channel.render_reminder(
        account.email,
        policy["locale"],
        {
            "debtor_name": account.debtor_name,
            "lender": tenant.name,
            "amount": f"{Decimal(account.balance):,.2f}",
            "currency": account.currency,
            "as_of": message["planned_for"],
            "due_date": account.due_date,
            "payment_reference": account.payment_reference,
        },
    )
    provider_id = email_channel.send(rendered, get_settings().sender_email)
    metrics.add_metric(name="RemindersSent", unit="Count", value=1)
    logger.info("reminder sent", extra={**attempt, "account_id": message["account_id"]})
    return {**attempt, "status": "sent", "provider_message_id": provider_id}


def _skipped(attempt: dict[str, Any], reason: str) -> dict[str, Any]:
    metrics.add_metric(name="RemindersSkipped", unit="Count", value=1)
    logger.info("reminder skipped", extra={**attempt, "reason": reason})
    return {**attempt, "status": "skipped", "reason": reason}
