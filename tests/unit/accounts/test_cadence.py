"""SPEC §5: which cadence step is due on which day (segmentation.steps_due / cadence_for)."""
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.accounts import segmentation as seg
from cobranza.tenants.policy import DEFAULT_POLICY, effective_policy, validate_policy

DUE = date(2026, 10, 1)

#: SPEC §5 default cadence: day past due -> the step due that day (medium tier, with coordinates).
DEFAULT_CADENCE = {
    -3: ("preventive", "email"),
    -1: ("preventive", "sms"),
    1: ("administrative", "sms"),
    3: ("administrative", "email"),
    7: ("administrative", "whatsapp"),
    15: ("administrative", "email"),
    25: ("administrative", "sms"),
    31: ("extrajudicial", "email"),
    35: ("extrajudicial", "field_visit"),
    45: ("extrajudicial", "whatsapp"),
    59: ("extrajudicial", "email"),
    73: ("extrajudicial", "email"),
    87: ("extrajudicial", "email"),
}


def due(day, tier="medium", location=True, policy=DEFAULT_POLICY, **kwargs):
    return seg.steps_due(policy, DUE, DUE + timedelta(days=day), tier, location, **kwargs)


@pytest.mark.parametrize("day", range(-15, 131))
def test_the_default_cadence_fires_exactly_on_its_days(day):
    if day in DEFAULT_CADENCE:
        stage_name, channel = DEFAULT_CADENCE[day]
        assert due(day) == [seg.Step(stage_name, day, channel)]
    else:
        assert due(day) == []


def test_step_ids_name_the_channel_and_the_signed_day():
    assert [s.step_id for d in sorted(DEFAULT_CADENCE) for s in due(d)] == [
        "email-3", "sms-1", "sms+1", "email+3", "whatsapp+7", "email+15", "sms+25",
        "email+31", "field_visit+35", "whatsapp+45", "email+59", "email+73", "email+87"]


def test_nothing_is_due_on_the_due_date_itself():
    assert due(0) == []


@pytest.mark.parametrize("tier, location, fires", [
    ("low", True, False), ("medium", True, True), ("high", True, True),
    ("medium", False, False), ("high", False, False), ("low", False, False),
])
def test_the_field_visit_needs_coordinates_and_at_least_a_medium_tier(tier, location, fires):
    assert [s.step_id for s in due(35, tier, location)] == (["field_visit+35"] if fires else [])


def test_steps_without_conditions_ignore_tier_and_location():
    for day in sorted(set(DEFAULT_CADENCE) - {35}):
        assert due(day, "low", False) == due(day, "high", True) != []


def test_the_extrajudicial_email_repeats_every_fourteen_days_up_to_day_ninety():
    repeats = [d for d in range(46, 131) if [s.step_id[:6] for s in due(d)] == ["email+"]]
    assert repeats == [59, 73, 87]


def test_the_judicial_stage_has_no_automatic_reminders():
    assert all(due(day) == [] for day in range(91, 400))
    assert seg.cadence_for(DEFAULT_POLICY, "judicial", None) == []


# ---------------------------------------------------------------- catch-up after missed nights
def test_without_since_only_today_counts():
    assert due(8) == []
    assert due(8, since=DUE + timedelta(days=8)) == []


def test_missed_nights_give_the_step_of_the_newest_day_only():
    steps = due(8, since=DUE + timedelta(days=2))  # days 2..8 hold email+3 and whatsapp+7
    assert [s.step_id for s in steps] == ["whatsapp+7"]
    assert steps[0].day == 7 and steps[0].stage == "administrative"


def test_a_missed_night_catches_up_a_single_step():
    assert [s.step_id for s in due(4, since=DUE + timedelta(days=3))] == ["email+3"]
    assert due(4, since=DUE + timedelta(days=4)) == []


def test_catch_up_takes_the_newest_repeat_of_a_repeating_step():
    assert [s.step_id for s in due(80, since=DUE + timedelta(days=50))] == ["email+73"]


def test_catch_up_only_looks_at_todays_stage():
    # days 24..32 span sms+25 (administrative) and email+31 (extrajudicial); today is extrajudicial
    steps = due(32, since=DUE + timedelta(days=24))
    assert [(s.stage, s.step_id) for s in steps] == [("extrajudicial", "email+31")]
    # and an administrative step missed on the last administrative days is not sent once extrajudicial
    assert due(31, since=DUE + timedelta(days=25), policy=_policy_without("extrajudicial")) == []


def test_catch_up_skips_a_newer_step_the_account_does_not_qualify_for():
    assert [s.step_id for s in due(36, since=DUE + timedelta(days=30))] == ["field_visit+35"]
    assert [s.step_id for s in due(36, "low", since=DUE + timedelta(days=30))] == ["email+31"]


def test_a_since_after_today_means_today():
    assert due(7, since=DUE + timedelta(days=30)) == due(7)


def _policy_without(stage_name):
    cadences = {k: v for k, v in DEFAULT_POLICY["cadences"].items() if k != stage_name}
    return effective_policy({"cadences": cadences})


# ---------------------------------------------------------------- segment cadences
SEGMENT_POLICY = effective_policy({"cadences": {
    **DEFAULT_POLICY["cadences"],
    "high_value_late": [{"day": 32, "channel": "sms"}, {"day": 40, "channel": "whatsapp"}],
}})


def test_the_segment_cadence_policy_is_valid():
    validate_policy(SEGMENT_POLICY)


def test_a_cadence_named_after_the_segment_replaces_the_stage_cadence():
    assert seg.cadence_for(SEGMENT_POLICY, "extrajudicial", "high_value_late") == SEGMENT_POLICY["cadences"]["high_value_late"]
    assert [s.step_id for s in due(32, policy=SEGMENT_POLICY, segment="high_value_late")] == ["sms+32"]
    assert [s.step_id for s in due(40, policy=SEGMENT_POLICY, segment="high_value_late")] == ["whatsapp+40"]
    # the stage's own steps are not sent to that segment
    for day in (31, 35, 45, 59):
        assert due(day, policy=SEGMENT_POLICY, segment="high_value_late") == []


def test_the_segment_steps_carry_the_accounts_stage():
    assert due(32, policy=SEGMENT_POLICY, segment="high_value_late")[0].stage == "extrajudicial"


def test_other_segments_keep_the_stage_cadence():
    for segment in ("late", "general", None, ""):
        assert seg.cadence_for(SEGMENT_POLICY, "extrajudicial", segment) == DEFAULT_POLICY["cadences"]["extrajudicial"]
        assert [s.step_id for s in due(31, policy=SEGMENT_POLICY, segment=segment)] == ["email+31"]
        assert due(32, policy=SEGMENT_POLICY, segment=segment) == []


def test_a_segment_named_like_a_stage_does_not_borrow_that_stages_cadence():
    assert seg.cadence_for(DEFAULT_POLICY, "administrative", "preventive") == DEFAULT_POLICY["cadences"]["administrative"]
    assert [s.step_id for s in due(3, segment="extrajudicial")] == ["email+3"]


def test_a_stage_missing_from_the_policy_has_no_steps():
    policy = _policy_without("administrative")
    assert seg.cadence_for(policy, "administrative", None) == []
    assert all(due(day, policy=policy) == [] for day in range(1, 31))


# ---------------------------------------------------------------- the schedule never skips a step
STAGE_NAMES = list(seg.STAGES)


@st.composite
def cadence_steps(draw):
    step = {"day": draw(st.integers(-60, 200)), "channel": draw(st.sampled_from(["email", "sms", "whatsapp"]))}
    if draw(st.booleans()):
        step["repeat_every_days"] = draw(st.integers(1, 30))
        if draw(st.booleans()):
            step["repeat_until_day"] = draw(st.integers(-60, 250))
    if draw(st.booleans()):
        step["min_amount_tier"] = draw(st.sampled_from(["low", "medium", "high"]))
    if draw(st.booleans()):
        step["requires_location"] = draw(st.booleans())
    return step


@st.composite
def policies(draw):
    names = draw(st.lists(st.sampled_from(STAGE_NAMES + ["vip", "early"]), unique=True, max_size=5))
    cadences = {name: draw(st.lists(cadence_steps(), max_size=4)) for name in names}
    return effective_policy({"cadences": cadences})


@settings(max_examples=200, deadline=None)
@given(policy=policies(), tier=st.sampled_from(["low", "medium", "high"]), location=st.booleans(),
       segment=st.sampled_from([None, "vip", "early", "general"]))
def test_every_step_falls_on_a_cadence_offset_and_next_action_stops_there(policy, tier, location, segment):
    offsets = set(seg.cadence_offsets(policy))
    for dpd in range(-65, 260):
        today = DUE + timedelta(days=dpd)
        steps = seg.steps_due(policy, DUE, today, tier, location, segment=segment)
        if not steps:
            continue
        assert {s.day for s in steps} == {dpd}
        assert dpd in offsets
        assert seg.next_action_on(DUE, today, policy, "active") == today
        # ... so whatever day the schedule is computed from, it wakes up on or before this one
        for back in (1, 2, 7, 30):
            woken = seg.next_action_on(DUE, today - timedelta(days=back), policy, "active")
            assert woken is not None and today - timedelta(days=back) <= woken <= today


@settings(max_examples=200, deadline=None)
@given(policy=policies(), tier=st.sampled_from(["low", "medium", "high"]), location=st.booleans(),
       today_dpd=st.integers(-65, 260), missed=st.integers(0, 40))
def test_catch_up_returns_one_day_of_steps_from_the_missed_range(policy, tier, location, today_dpd, missed):
    today = DUE + timedelta(days=today_dpd)
    since = today - timedelta(days=missed)
    steps = seg.steps_due(policy, DUE, today, tier, location, since=since)
    days = {s.day for s in steps}
    assert len(days) <= 1
    assert all(today_dpd - missed <= s.day <= today_dpd for s in steps)
    assert all(s.stage == seg.stage(today_dpd) for s in steps)
    assert all(s.day in seg.cadence_offsets(policy) for s in steps)
    # what today alone would give is always part of the catch-up when today has a step
    if seg.steps_due(policy, DUE, today, tier, location):
        assert seg.steps_due(policy, DUE, today, tier, location) == steps


@given(offset=st.integers(-20, 200))
def test_next_action_with_the_default_policy_lands_on_every_step_day(offset):
    today = DUE + timedelta(days=offset)
    nxt = seg.next_action_on(DUE, today, DEFAULT_POLICY, "active")
    next_step = min((d for d in DEFAULT_CADENCE if d >= offset), default=None)
    if next_step is not None:
        assert nxt is not None and nxt <= DUE + timedelta(days=next_step)


# ---------------------------------------------------------------- known defect (see the report)
def test_a_repeating_step_starting_after_day_ninety_fires_on_its_first_day():
    policy = effective_policy({"cadences": {"vip": [{"day": 100, "channel": "email", "repeat_every_days": 30}]}})
    validate_policy(policy)
    assert seg.cadence_offsets(policy) == [100]
    assert [s.step_id for s in due(100, policy=policy, segment="vip")] == ["email+100"]
