"""SPEC §4: derived fields and the date on which they next change."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.accounts import segmentation as seg
from cobranza.tenants.policy import DEFAULT_POLICY

DUE = date(2026, 10, 1)


@pytest.mark.parametrize(
    "dpd, bucket, stage",
    [
        (-5, "current", "preventive"),
        (0, "current", "preventive"),
        (1, "1-30", "administrative"),
        (30, "1-30", "administrative"),
        (31, "31-60", "extrajudicial"),
        (60, "31-60", "extrajudicial"),
        (61, "61-90", "extrajudicial"),
        (90, "61-90", "extrajudicial"),
        (91, "91-120", "judicial"),
        (120, "91-120", "judicial"),
        (121, "120+", "judicial"),
    ],
)
def test_bucket_and_stage_boundaries(dpd, bucket, stage):
    assert seg.aging_bucket(dpd) == bucket
    assert seg.stage(dpd) == stage


def test_days_past_due_is_negative_before_the_due_date():
    assert seg.days_past_due(DUE, DUE - timedelta(days=3)) == -3
    assert seg.days_past_due(DUE, DUE + timedelta(days=45)) == 45


@pytest.mark.parametrize("balance, tier", [("4999.99", "low"), ("5000", "medium"), ("19999.99", "medium"), ("20000", "high")])
def test_amount_tier_uses_default_thresholds(balance, tier):
    assert seg.amount_tier(Decimal(balance), Decimal(5000), Decimal(20000)) == tier


def test_first_matching_segment_rule_wins():
    facts = {"stage": "extrajudicial", "amount_tier": "high", "risk_score": 900}
    rules = [{"name": "a", "when": {"stage": ["judicial"]}}, {"name": "b", "when": {"min_risk_score": 800}},
             {"name": "c", "when": {"stage": ["extrajudicial"]}}]
    assert seg.segment_for(rules, facts, "general") == "b"
    assert seg.segment_for([], facts, "general") == "general"


def test_derive_with_default_policy():
    d = seg.derive(due_date=DUE, balance=Decimal("25000"), today=DUE + timedelta(days=40), policy=DEFAULT_POLICY)
    assert (d.days_past_due, d.aging_bucket, d.stage, d.amount_tier, d.segment) == (40, "31-60", "extrajudicial", "high", "high_value_late")


def test_given_risk_score_is_kept():
    d = seg.derive(due_date=DUE, balance=Decimal(1), today=DUE, policy=DEFAULT_POLICY, given_risk_score=777)
    assert d.risk_score == 777


@given(
    dpd=st.integers(-30, 400),
    balance=st.decimals(0, 10_000_000, places=2),
    original=st.one_of(st.none(), st.decimals(0, 10_000_000, places=2)),
    phone=st.booleans(), email=st.booleans(), location=st.booleans(),
)
def test_computed_risk_score_stays_in_range(dpd, balance, original, phone, email, location):
    assert 0 <= seg.computed_risk_score(dpd, balance, original, phone, email, location) <= 1000


def test_computed_risk_grows_with_lateness():
    early = seg.computed_risk_score(1, Decimal(1000), None, True, True, True)
    late = seg.computed_risk_score(150, Decimal(1000), None, True, True, True)
    assert late > early


@given(offset=st.integers(-20, 200))
def test_next_action_is_the_first_boundary_or_step_on_or_after_the_day(offset):
    today = DUE + timedelta(days=offset)
    nxt = seg.next_action_on(DUE, today, DEFAULT_POLICY, "active")
    important = set(seg.BUCKET_STARTS) | set(seg.STAGE_STARTS) | set(seg.cadence_offsets(DEFAULT_POLICY))
    if nxt is None:
        assert offset > max(important)
    else:
        assert nxt >= today
        assert (nxt - DUE).days in important
        # nothing important is skipped between today and the next action
        assert not any(offset <= o < (nxt - DUE).days for o in important)


def test_closed_accounts_leave_the_schedule():
    for status in ("paid", "settled", "withdrawn", "disputed", "legal"):
        assert seg.next_action_on(DUE, DUE, DEFAULT_POLICY, status) is None


def test_default_cadence_steps():
    def steps(day, tier="medium", location=True):
        return [s.step_id for s in seg.steps_due(DEFAULT_POLICY, DUE, DUE + timedelta(days=day), tier, location)]

    assert steps(-3) == ["email-3"]
    assert steps(-1) == ["sms-1"]
    assert steps(3) == ["email+3"]
    assert steps(7) == ["whatsapp+7"]
    assert steps(35) == ["field_visit+35"]
    assert steps(35, tier="low") == []          # field visit needs tier >= medium
    assert steps(35, location=False) == []      # ... and coordinates
    assert steps(59) == ["email+59"] and steps(73) == ["email+73"]  # every 14 days after +45
    assert steps(95) == []                      # judicial: no automatic reminders


@given(
    dpd=st.integers(min_value=-30, max_value=400),
    balance=st.decimals(min_value=0, max_value=200_000, places=2),
    product=st.sampled_from(["Tarjeta de Crédito", "Crédito Personal", "Nómina", None]),
    state=st.sampled_from(["Jalisco", "Sonora", None]),
    score=st.one_of(st.none(), st.integers(min_value=0, max_value=1000)),
)
def test_the_compiled_policy_picks_the_same_segment_as_the_documented_rules(dpd, balance, product, state, score):
    from datetime import date, timedelta

    from cobranza.accounts import segmentation
    from cobranza.tenants.policy import effective_policy

    policy = effective_policy({"segments": [
        {"name": "big-late", "when": {"min_days_past_due": 31, "min_balance": 20000}},
        {"name": "cards-west", "when": {"product": ["Tarjeta de Crédito"], "state": ["Jalisco", "Sonora"]}},
        {"name": "risky", "when": {"min_risk_score": 700, "max_days_past_due": 90}},
        {"name": "early", "when": {"stage": ["preventive", "administrative"], "amount_tier": ["low"]}},
    ]})
    today = date(2026, 11, 23)
    derived = segmentation.derive(due_date=today - timedelta(days=dpd), balance=balance, today=today, policy=policy,
                                  product=product, state=state, given_risk_score=score)
    facts = {"days_past_due": derived.days_past_due, "aging_bucket": derived.aging_bucket, "stage": derived.stage,
             "amount_tier": derived.amount_tier, "risk_score": derived.risk_score, "balance": balance,
             "product": product, "state": state, "status": "active"}
    assert derived.segment == _documented_segment(policy["segments"], facts, policy["default_segment"])


def _documented_segment(rules, facts, fallback):
    """docs/policy.md, written out plainly: the first rule whose every condition holds; a list
    holds when the fact is one of its values, min_/max_ bounds are inclusive, a missing fact
    holds nothing."""
    for rule in rules:
        holds = True
        for name, expected in rule["when"].items():
            value = facts.get(name[4:] if name[:4] in ("min_", "max_") else name)
            if value is None:
                holds = False
            elif name.startswith("min_"):
                holds = Decimal(str(value)) >= Decimal(str(expected))
            elif name.startswith("max_"):
                holds = Decimal(str(value)) <= Decimal(str(expected))
            else:
                holds = value in expected
            if not holds:
                break
        if holds:
            return rule["name"]
    return fallback
