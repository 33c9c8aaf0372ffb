"""One TransactWriteItems over the items several stores build (visits, payments): every write
happens, or none, and the caller learns which condition refused it."""
from __future__ import annotations

from typing import Any, Sequence

from botocore.exceptions import ClientError

from . import aws


class WriteConflict(Exception):
    """A transaction was cancelled; ``reasons`` has one code per item ("None" for items that were fine)."""

    def __init__(self, reasons: list[str]):
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, roles: Sequence[str]) -> set[str]:
        """The roles (one per item of the transaction, in order) whose condition refused it."""
        return {role for role, reason in zip(roles, self.reasons) if reason == "ConditionalCheckFailed"}

    @property
    def retryable(self) -> bool:
        """Cancelled for a reason other than a condition (another transaction on an item at the
        same moment, throttling): the same writes may simply be sent again."""
        return any(reason not in ("None", "", "ConditionalCheckFailed") for reason in self.reasons)


def write_together(items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems: every write happens, or none (WriteConflict says which condition failed)."""
    client = aws.bulk_client("dynamodb")  # the stores build every item by code (payments: 100 a request)
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in exc.response.get("CancellationReasons") or []]
        if not reasons:  # moto puts them in the message only
            message = exc.response["Error"].get("Message", "")
            inside = message[message.find("[") + 1:message.rfind("]")]
            reasons = [r.strip() for r in inside.split(",")] if inside else []
        raise WriteConflict(reasons) from None
