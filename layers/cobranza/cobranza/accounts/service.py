"""Account lifecycle helpers shared by ingestion, the nightly run and the API."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Mapping

from . import segmentation, status
from . import store as accounts_repo


def derive_for_item(item: Mapping[str, Any], policy: Mapping[str, Any], today: date) -> segmentation.Derived:
    """The derived fields of a stored account item as of ``today``."""
    return segmentation.derive(
        due_date=date.fromisoformat(item["due_date"]),
        balance=Decimal(item["balance"]),
        today=today,
        policy=policy,
        product=item.get("product"),
        state=item.get("state"),
        status=status.of(item),
        given_risk_score=None if item.get("given_risk_score") is None else int(item["given_risk_score"]),
        original_amount=None if item.get("original_amount") is None else Decimal(item["original_amount"]),
        has_phone=bool(item.get("phone")),
        has_email=bool(item.get("email")),
        has_location=item.get("lat") is not None,
    )


def needs_legal_handoff(item: Mapping[str, Any]) -> bool:
    """A judicial account still worked by the platform that legal has not been handed yet."""
    return (item.get("stage") == "judicial" and not item.get("legal_handoff_on")
            and status.of(item) in status.ON_SCHEDULE)


def refresh_derived(
    item: dict[str, Any], policy: dict[str, Any], today: date, next_from: date | None = None
) -> dict[str, Any]:
    """Recomputes the derived fields (as of ``today``) and the due-index keys (the first change
    on or after ``next_from``, default today) of an account item, in place."""
    due = date.fromisoformat(item["due_date"])
    current = status.of(item)
    derived = derive_for_item(item, policy, today)
    item.update(
        days_past_due=derived.days_past_due,
        aging_bucket=derived.aging_bucket,
        stage=derived.stage,
        amount_tier=derived.amount_tier,
        risk_score=derived.risk_score,
        segment=derived.segment,
        derived_on=today.isoformat(),
    )
    next_on = segmentation.next_action_on(due, next_from or today, policy, current)
    promise_check = segmentation.promise_check_on(item, int(policy["contact_rules"]["promise_grace_days"]))
    if promise_check is not None:  # the night that breaks the promise if it is not paid
        promise_check = max(promise_check, next_from or today)
        next_on = min(next_on, promise_check) if next_on else promise_check
    if needs_legal_handoff(item):
        next_on = next_from or today  # the planner hands it off on its next run
    if next_on is None:
        item["next_action_on"] = None
        item["due_shard"] = None
    else:
        item["next_action_on"] = next_on.isoformat()
        item["due_shard"] = accounts_repo.due_shard(item["tenant_id"], item["account_id"])
    return item
