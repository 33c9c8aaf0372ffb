"""SPEC §6b: outcomes' input and next steps, the call list's order and the best hours to call."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal as D

import pytest

from cobranza.campaign.call_rules import best_hours, next_step, parse_task_id, priority_key, task_id, to_outcome
from cobranza.kpis.rules import hour_slot
from cobranza.tenants.policy import effective_policy

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)
RULES = effective_policy(None)["outcome_rules"]


@pytest.mark.parametrize("result, status, unusable, callback, closed, alarm", [
    ("no_answer", None, (), False, False, None),
    ("dispute", "disputed", (), False, False, None),
    ("paid_reported", "payment_reported", (), False, False, None),
    ("promise_to_pay", "promised", (), False, False, None),
    ("wrong_number", None, ("sms", "whatsapp", "call"), False, False, "skip_trace"),
    ("callback_requested", None, (), True, False, None),
    ("deceased", None, (), False, True, "debtor_deceased"),
])
def test_each_result_has_its_default_next_step(result, status, unusable, callback, closed, alarm):
    step = next_step(result, RULES)
    assert (step.account_status, step.unusable, step.callback, step.close_contact, step.alarm) == \
        (status, unusable, callback, closed, alarm)


def test_the_tenant_s_rule_replaces_the_default_of_that_result_only():
    rules = effective_policy({"outcome_rules": {"no_answer": {"alarm": "unreachable"}}})["outcome_rules"]
    assert next_step("no_answer", rules).alarm == "unreachable"
    assert next_step("wrong_number", rules).unusable == ("sms", "whatsapp", "call")


def test_an_outcome_is_read_with_its_offset_and_every_problem_is_named():
    outcome, problems = to_outcome({"channel": "phone", "result": "busy", "occurred_at": "2026-11-23T09:00:00-06:00",
                                    "duration_s": 12, "task_id": "call-20261123-A1"}, NOW)
    assert problems == [] and outcome is not None
    assert outcome.occurred_at == datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    _, problems = to_outcome({"channel": "fax", "result": "busy", "occurred_at": "2026-11-23T09:00:00",
                              "duration_s": -1, "notes": "x" * 2001}, NOW)
    assert [p["field"] for p in problems] == ["channel", "occurred_at", "duration_s", "notes"]
    _, problems = to_outcome({"channel": "phone", "result": "promise_to_pay", "occurred_at": "2026-11-23T09:00:00Z"}, NOW)
    assert [p["field"] for p in problems] == ["promise"]


def test_a_task_id_names_its_day_and_account():
    assert task_id(date(2026, 11, 23), "A-1") == "call-20261123-A-1"
    assert parse_task_id("call-20261123-A-1") == (date(2026, 11, 23), "A-1")
    assert parse_task_id("call-20261332-A1") is None and parse_task_id("visit-20261123-A1") is None


def test_broken_promises_come_first_then_the_largest_amount_times_risk():
    today = date(2026, 11, 23)
    keys = {
        "broken": priority_key({"account_id": "B", "promise_broken_on": "2026-11-20", "risk_score": 100}, D("10"), today),
        "old_break": priority_key({"account_id": "O", "promise_broken_on": "2026-09-01", "risk_score": 100}, D("10"), today),
        "big": priority_key({"account_id": "G", "risk_score": 500}, D("90000"), today),
        "risky": priority_key({"account_id": "R", "risk_score": 900}, D("60000"), today),
    }
    assert sorted(keys, key=keys.get) == ["broken", "risky", "big", "old_break"]


def test_best_hours_are_the_policy_s_until_enough_calls_then_the_best_right_party_rates():
    window, default = (time(7), time(22)), ["10:00-11:00"]
    few = {"a_0_10": 3, "r_0_10": 3}
    assert best_hours(few, 0, window, default, 10) == {"hours": default, "source": "policy_default", "attempts": 3}
    stats = {"a_0_09": 20, "r_0_09": 2, "a_0_13": 10, "r_0_13": 6, "a_0_19": 1, "r_0_19": 1, "a_0_06": 50, "r_0_06": 50}
    learned = best_hours(stats, 0, window, default, 10)
    assert learned["source"] == "learned" and learned["hours"] == ["19:00-20:00", "13:00-14:00", "09:00-10:00"]
    assert learned["attempts"] == 31  # 06:00 is outside the window


def test_the_hour_slot_is_the_debtor_s_local_weekday_and_hour():
    assert hour_slot(datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc), "America/Mexico_City") == "0_10"
    assert hour_slot(datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc), "America/Mexico_City") == "6_20"
