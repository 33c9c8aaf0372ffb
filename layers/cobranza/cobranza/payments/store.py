"""Payments store: the payment items (PaymentsTable) and the transaction items that record a
payment on its account and timeline together (SPEC §6b).

PaymentsTable is keyed ``payment_key`` = ``<tenant_id>#<payment_id>`` alone: a tenant's payments
spread over every partition (SPEC §10), and a payment id is taken once per tenant by the
condition on its put, which is what makes payments idempotent.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Mapping

from ..accounts import store as accounts_store
from ..accounts.store import from_wire, to_wire, wire_value
from ..core.settings import get_settings
from .rules import Money, Payment

#: Payment ids read per BatchGetItem.
READ_BATCH = 100


def _table() -> str:
    return get_settings().payments_table


def payment_key(tenant_id: str, payment_id: str) -> dict[str, Any]:
    return {"payment_key": {"S": f"{tenant_id}#{payment_id}"}}


def get_payments(tenant_id: str, payment_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored payments among ``payment_ids``, by id (strongly consistent; BatchGetItem)."""
    ids = sorted(set(payment_ids))
    found: dict[str, dict[str, Any]] = {}
    table = _table()
    for start in range(0, len(ids), READ_BATCH):
        keys = [payment_key(tenant_id, i) for i in ids[start:start + READ_BATCH]]
        for item in accounts_store.batch_get({table: keys})[table]:
            found[item["payment_id"]] = item
    return found


def payment_put(tenant_id: str, payment: Payment, fingerprint: str, source: str, recorded_at: str) -> dict[str, Any]:
    """The transaction item that takes the payment id (refused if the tenant already used it)."""
    item = {"tenant_id": tenant_id, "payment_id": payment.payment_id, "account_id": payment.account_id,
            "amount": payment.amount, "paid_at": payment.paid_at.isoformat().replace("+00:00", "Z"),
            "method": payment.method, "reverses": payment.reverses, "fingerprint": fingerprint,
            "status": "applied", "source": source, "recorded_at": recorded_at}
    return {"Put": {"TableName": _table(), "Item": {**payment_key(tenant_id, payment.payment_id), **to_wire(item)},
                    "ConditionExpression": "attribute_not_exists(payment_key)"}}


def reversal_update(tenant_id: str, reversed_id: str, account_id: str, by_payment_id: str, at: str) -> dict[str, Any]:
    """The transaction item that marks a payment reversed, only while it is applied on that account."""
    return {"Update": {
        "TableName": _table(), "Key": payment_key(tenant_id, reversed_id),
        "UpdateExpression": "SET #st = :reversed, reversed_by = :by, reversed_at = :at",
        "ConditionExpression": "#st = :applied AND account_id = :account",
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":reversed": {"S": "reversed"}, ":applied": {"S": "applied"},
                                      ":by": {"S": by_payment_id}, ":at": {"S": at}, ":account": {"S": account_id}},
    }}


def account_money_update(tenant_id: str, account_id: str, paid_delta: Decimal, after: Money, status: str | None,
                         seen_rev: Any, updated_at: str, promise_paid: Decimal | None = None,
                         promise_next: date | None = None) -> dict[str, Any]:
    """The transaction item that records a payment (``paid_delta`` > 0) or a reversal (< 0) on
    the account: the payments' own attributes only (``paid_total``, ``credit``, ``promise_paid``,
    the open promise's next date ``promise_next`` once an installment is covered, and
    ``payment_recorded_at``, which the sender compares with a reminder's planning time), the
    status when it changes (with its list key), one more on the revision; on the condition that
    nobody wrote the account since it was read (``seen_rev``), as every derived write (accounts.store)."""
    names = {"#rev": accounts_store.REV}
    values: dict[str, Any] = {":delta": wire_value(paid_delta), ":credit": wire_value(after.credit),
                              ":now": {"S": updated_at}, ":one": {"N": "1"}}
    sets = ["credit = :credit", "updated_at = :now"]
    if paid_delta > 0:  # a reminder planned before this moment is no longer sent (campaign.sender)
        sets.append("payment_recorded_at = :now")
    if promise_paid is not None:  # paid toward the open promise so far
        sets.append("promise_paid = :pp")
        values[":pp"] = wire_value(promise_paid)
    if promise_next is not None:  # the promise now waits for its next installment
        sets.append("promise_date = :pn")
        values[":pn"] = {"S": promise_next.isoformat()}
    if status is not None:
        names["#st"] = "status"
        sets += ["#st = :status", "by_status = :bys"]
        values[":status"] = {"S": status}
        values[":bys"] = wire_value(accounts_store.list_keys(tenant_id, account_id, {"status": status})["by_status"])
    if seen_rev is None:
        condition = "attribute_exists(account_id) AND attribute_not_exists(#rev)"
    else:
        condition = "attribute_exists(account_id) AND #rev = :seen"
        values[":seen"] = {"N": str(int(seen_rev))}
    return {"Update": {
        "TableName": get_settings().accounts_table, "Key": accounts_store.wire_key(tenant_id, account_id),
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD paid_total :delta, #rev :one",
        "ConditionExpression": condition, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
    }}


def as_stored(item: Mapping[str, Any]) -> dict[str, Any]:
    """A payment item as the API shows it (its key left out)."""
    plain = from_wire(item) if item and isinstance(next(iter(item.values())), dict) else dict(item)
    plain.pop("payment_key", None)
    return plain


def account_promise_broken_update(tenant_id: str, account_id: str, promise_date: str, broken_on: str,
                                  updated_at: str, alarm_id: str) -> dict[str, Any]:
    """The transaction item that ends an account's broken promise: status back to ``active``
    (with its list key) and ``promise_broken_on`` (the phone team calls it first), on the
    condition that the promise is still the one found broken (still ``promised``, still waiting
    for ``promise_date``: a payment or a new promise meanwhile wins). ``broken_alarm_id`` names
    the alarm a promise kept later resolves."""
    return {"Update": {
        "TableName": get_settings().accounts_table, "Key": accounts_store.wire_key(tenant_id, account_id),
        "UpdateExpression": "SET #st = :active, by_status = :bys, promise_broken_on = :on, broken_alarm_id = :alarm, "
                            "updated_at = :now ADD #rev :one",
        "ConditionExpression": "#st = :promised AND promise_date = :pd",
        "ExpressionAttributeNames": {"#st": "status", "#rev": accounts_store.REV},
        "ExpressionAttributeValues": {
            ":active": {"S": "active"}, ":promised": {"S": "promised"}, ":pd": {"S": promise_date}, ":on": {"S": broken_on},
            ":now": {"S": updated_at}, ":one": {"N": "1"}, ":alarm": {"S": alarm_id},
            ":bys": wire_value(accounts_store.list_keys(tenant_id, account_id, {"status": "active"})["by_status"])},
    }}
