"""SPEC §8: what raises a time-based alarm (alarms.rules): visits past their SLA, silent agents in
working hours, the digest's hours, and the words the emails use. Pinned at their boundaries."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from cobranza.alarms import rules
from cobranza.core.instants import utc_stamp
from cobranza.tenants.policy import DEFAULT_POLICY, alarm_settings, effective_policy

UTC = timezone.utc
CDMX, TIJUANA = "America/Mexico_City", "America/Tijuana"
DEFAULTS = alarm_settings(DEFAULT_POLICY)  # 08:00-19:00, Monday to Saturday, 2 hours, digest at 8
MONDAY, SATURDAY, SUNDAY = date(2026, 3, 2), date(2026, 3, 7), date(2026, 3, 8)


def at(day, hour, minute=0, tz=CDMX):
    """An aware instant on the wall clock of ``tz``."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(tz))


def agent(agent_id="ag-1", seen=None, **extra):
    """An active agent whose last ping was at ``seen`` (stored as the platform writes instants)."""
    row = {"agent_id": agent_id, "active": True}
    if seen is not None:
        row["last_seen_at"] = utc_stamp(seen)
    row.update(extra)
    return row


def settings_with(**alarms):
    return alarm_settings(effective_policy({"alarms": alarms}))


# ---------------------------------------------------------------- the policy's settings
def test_the_default_policy_watches_monday_to_saturday_from_8_to_19_for_two_hours_of_silence():
    assert DEFAULTS.working_start == time(8, 0) and DEFAULTS.working_end == time(19, 0)
    assert DEFAULTS.working_days == frozenset({1, 2, 3, 4, 5, 6})
    assert DEFAULTS.silence == timedelta(hours=2)
    assert DEFAULTS.digest_hour == 8
    assert "promise_broken" in DEFAULTS.urgent_codes and "agent_silent" not in DEFAULTS.urgent_codes


def test_a_tenant_changing_one_alarm_setting_keeps_the_other_defaults():
    settings = settings_with(agent_silence_hours=4)
    assert settings.silence == timedelta(hours=4)
    assert (settings.working_start, settings.working_end, settings.digest_hour) == (time(8, 0), time(19, 0), 8)


# ---------------------------------------------------------------- working hours
@pytest.mark.parametrize(
    "moment, expected",
    [
        (at(MONDAY, 8, 0), True),
        (at(MONDAY, 7, 59), False),
        (at(MONDAY, 18, 59), True),
        (at(MONDAY, 19, 0), False),  # the end is not inside
        (at(MONDAY, 21, 0), False),
        (at(SATURDAY, 12, 0), True),
        (at(SUNDAY, 12, 0), False),  # ISO weekday 7 is not a working day by default
    ],
)
def test_working_hours_are_the_policy_s_days_and_hours(moment, expected):
    assert rules.in_working_hours(moment, CDMX, DEFAULTS) is expected


def test_working_hours_are_judged_on_the_tenant_s_clock_not_utc():
    moment = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 08:00 in Mexico City, 06:00 in Tijuana
    assert rules.in_working_hours(moment, CDMX, DEFAULTS)
    assert not rules.in_working_hours(moment, TIJUANA, DEFAULTS)
    # 01:00 UTC on Sunday is still 19:00 on Saturday in Mexico City: after hours, not "Sunday".
    assert not rules.in_working_hours(datetime(2026, 3, 8, 1, 0, tzinfo=UTC), CDMX, DEFAULTS)
    assert rules.in_working_hours(datetime(2026, 3, 8, 0, 59, tzinfo=UTC), CDMX, DEFAULTS)


def test_a_tenant_working_on_sundays_is_watched_on_sundays():
    settings = settings_with(working_days=[7])
    assert rules.in_working_hours(at(SUNDAY, 10), CDMX, settings)
    assert not rules.in_working_hours(at(MONDAY, 10), CDMX, settings)


# ---------------------------------------------------------------- silent agents
def test_an_early_ping_counts_only_from_the_start_of_working_hours():
    agents = [agent(seen=at(MONDAY, 7, 30))]
    assert rules.silent_agents(agents, at(MONDAY, 9, 59), CDMX, DEFAULTS) == []
    [silence] = rules.silent_agents(agents, at(MONDAY, 10, 0), CDMX, DEFAULTS)
    assert silence.agent_id == "ag-1"
    assert silence.since == at(MONDAY, 8, 0)
    assert silence.last_seen_at == utc_stamp(at(MONDAY, 7, 30))  # as stored: the alarm's write is conditioned on it


def test_a_ping_inside_working_hours_starts_the_silence():
    agents = [agent(seen=at(MONDAY, 9, 15))]
    assert rules.silent_agents(agents, at(MONDAY, 11, 14), CDMX, DEFAULTS) == []
    [silence] = rules.silent_agents(agents, at(MONDAY, 11, 15), CDMX, DEFAULTS)
    assert silence.since == at(MONDAY, 9, 15)


def test_a_night_off_raises_nothing_in_the_first_hours_of_the_morning():
    agents = [agent(seen=at(MONDAY - timedelta(days=2), 18, 50))]  # last seen Saturday evening
    assert rules.silent_agents(agents, at(MONDAY, 8, 0), CDMX, DEFAULTS) == []
    assert rules.silent_agents(agents, at(MONDAY, 9, 30), CDMX, DEFAULTS) == []
    [silence] = rules.silent_agents(agents, at(MONDAY, 10, 0), CDMX, DEFAULTS)
    assert silence.since == at(MONDAY, 8, 0)


@pytest.mark.parametrize(
    "now",
    [at(SUNDAY, 12, 0), at(MONDAY, 21, 0), at(MONDAY, 19, 0), at(MONDAY, 7, 0)],
    ids=["sunday", "21h", "19h", "7h"],
)
def test_no_silence_alarm_outside_working_hours(now):
    long_gone = [agent(seen=now - timedelta(days=3))]
    assert rules.silent_agents(long_gone, now, CDMX, DEFAULTS) == []


@pytest.mark.parametrize(
    "row",
    [
        agent(seen=at(MONDAY, 7, 0), active=False),
        agent(seen=at(MONDAY, 7, 0), silent_alarm_id="al-9"),
        agent(),  # never sent a ping
        agent(last_seen_at=""),
        agent(last_seen_at=None),
    ],
    ids=["inactive", "already_alarmed", "never_seen", "empty_last_seen", "null_last_seen"],
)
def test_agents_not_watched_are_never_returned(row):
    assert rules.silent_agents([row], at(MONDAY, 15, 0), CDMX, DEFAULTS) == []


def test_an_agent_without_an_active_flag_is_watched():
    row = {"agent_id": "ag-1", "last_seen_at": utc_stamp(at(MONDAY, 7, 0))}
    assert [s.agent_id for s in rules.silent_agents([row], at(MONDAY, 15, 0), CDMX, DEFAULTS)] == ["ag-1"]


def test_silent_agents_come_sorted_and_only_the_silent_ones():
    agents = [agent("ag-c", seen=at(MONDAY, 9, 0)), agent("ag-a", seen=at(MONDAY, 8, 30)),
              agent("ag-b", seen=at(MONDAY, 10, 30))]  # ag-b pinged 30 minutes before now
    silent = rules.silent_agents(agents, at(MONDAY, 11, 0), CDMX, DEFAULTS)
    assert [s.agent_id for s in silent] == ["ag-a", "ag-c"]


def test_the_policy_s_silence_hours_decide_when_an_agent_is_silent():
    settings = settings_with(agent_silence_hours=4)
    agents = [agent(seen=at(MONDAY, 9, 0))]
    assert rules.silent_agents(agents, at(MONDAY, 12, 59), CDMX, settings) == []
    assert len(rules.silent_agents(agents, at(MONDAY, 13, 0), CDMX, settings)) == 1


def test_silence_is_counted_in_the_tenant_s_zone():
    # 08:00 in Tijuana (UTC-8 in early March) is 16:00 UTC; a ping at 07:00 there counts from 08:00.
    agents = [agent(seen=at(MONDAY, 7, 0, tz=TIJUANA))]
    assert rules.silent_agents(agents, at(MONDAY, 9, 59, tz=TIJUANA), TIJUANA, DEFAULTS) == []
    [silence] = rules.silent_agents(agents, at(MONDAY, 10, 0, tz=TIJUANA), TIJUANA, DEFAULTS)
    assert silence.since == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


# ---------------------------------------------------------------- visits past their SLA
def visit(visit_id="v-1", status="assigned", scheduled_on="2026-03-01", **extra):
    return {"visit_id": visit_id, "status": status, "scheduled_on": scheduled_on, **extra}


def test_a_visit_due_yesterday_and_still_assigned_is_overdue():
    today = date(2026, 3, 10)
    late = visit(due_on="2026-03-09")
    assert rules.overdue_visits([late], today, 3) == [late]


def test_a_visit_due_today_is_not_overdue_yet():
    assert rules.overdue_visits([visit(due_on="2026-03-10")], date(2026, 3, 10), 3) == []


@pytest.mark.parametrize("status", rules.OPEN_VISIT_STATUSES)
def test_every_open_status_can_be_overdue(status):
    assert len(rules.overdue_visits([visit(status=status, due_on="2026-03-09")], date(2026, 3, 10), 3)) == 1


@pytest.mark.parametrize("status", ["done", "rejected", "cancelled"])
def test_a_finished_visit_is_never_overdue(status):
    assert rules.overdue_visits([visit(status=status, due_on="2026-01-01")], date(2026, 3, 10), 3) == []


def test_a_visit_already_alarmed_is_not_alarmed_again():
    assert rules.overdue_visits([visit(due_on="2026-03-01", sla_alarm_id="al-1")], date(2026, 3, 10), 3) == []


def test_without_due_on_the_sla_counts_from_the_scheduled_day():
    assert rules.visit_due_on(visit(scheduled_on="2026-03-01"), 3) == date(2026, 3, 4)
    assert rules.overdue_visits([visit(scheduled_on="2026-03-01")], date(2026, 3, 4), 3) == []
    assert len(rules.overdue_visits([visit(scheduled_on="2026-03-01")], date(2026, 3, 5), 3)) == 1
    # A longer SLA gives more days.
    assert rules.overdue_visits([visit(scheduled_on="2026-03-01")], date(2026, 3, 5), 5) == []


def test_a_stored_due_on_wins_over_the_scheduled_day_plus_the_sla():
    rescheduled = visit(scheduled_on="2026-03-01", due_on="2026-03-20")
    assert rules.visit_due_on(rescheduled, 3) == date(2026, 3, 20)
    assert rules.overdue_visits([rescheduled], date(2026, 3, 10), 3) == []


def test_the_sla_spans_month_and_year_ends():
    assert rules.visit_due_on(visit(scheduled_on="2025-12-30"), 3) == date(2026, 1, 2)
    assert rules.visit_due_on(visit(scheduled_on="2028-02-27"), 3) == date(2028, 3, 1)  # 2028 is a leap year


def test_overdue_visits_come_oldest_first_then_by_id():
    visits = [visit("v-3", scheduled_on="2026-03-02"), visit("v-2", scheduled_on="2026-03-01"),
              visit("v-1", scheduled_on="2026-03-02"), visit("v-0", scheduled_on="2026-03-09")]
    late = rules.overdue_visits(visits, date(2026, 3, 10), 3)
    assert [v["visit_id"] for v in late] == ["v-2", "v-1", "v-3"]


# ---------------------------------------------------------------- the digest
@pytest.mark.parametrize(
    "moment, expected",
    [
        (at(MONDAY, 7, 59), None),
        (at(MONDAY, 8, 0), MONDAY),
        (at(MONDAY, 9, 30), MONDAY),
        (at(MONDAY, 11, 59), MONDAY),  # a tick that missed 08:00 still sends it for 4 hours
        (at(MONDAY, 12, 0), None),
        (at(MONDAY, 20, 0), None),
        (at(SUNDAY, 8, 0), SUNDAY),  # the digest goes out every day, not only working days
    ],
)
def test_the_digest_is_due_from_the_digest_hour_for_four_hours(moment, expected):
    assert rules.digest_due(moment, CDMX, DEFAULTS) == expected


def test_the_digest_hour_is_the_tenant_s_local_hour():
    moment = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 08:00 in Mexico City, 06:00 in Tijuana
    assert rules.digest_due(moment, CDMX, DEFAULTS) == MONDAY
    assert rules.digest_due(moment, TIJUANA, DEFAULTS) is None


def test_the_digest_s_day_is_the_tenant_s_day_not_the_utc_day():
    settings = settings_with(digest_hour=20)
    moment = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)  # Tuesday in UTC, Monday 20:30 in Mexico City
    assert rules.digest_due(moment, CDMX, settings) == MONDAY


def test_a_late_evening_digest_is_still_caught_up_after_midnight_for_that_day():
    settings, tuesday = settings_with(digest_hour=23), MONDAY + timedelta(days=1)
    assert rules.digest_due(at(MONDAY, 22, 59), CDMX, settings) is None
    assert rules.digest_due(at(MONDAY, 23, 0), CDMX, settings) == MONDAY
    assert rules.digest_due(at(tuesday, 0, 30), CDMX, settings) == MONDAY  # a missed 23:00 tick, not Tuesday's digest
    assert rules.digest_due(at(tuesday, 2, 59), CDMX, settings) == MONDAY
    assert rules.digest_due(at(tuesday, 3, 0), CDMX, settings) is None


def test_a_midnight_digest_is_the_new_day_s():
    settings = settings_with(digest_hour=0)
    assert rules.digest_due(at(MONDAY, 0, 0), CDMX, settings) == MONDAY
    assert rules.digest_due(at(MONDAY, 3, 59), CDMX, settings) == MONDAY
    assert rules.digest_due(at(MONDAY, 4, 0), CDMX, settings) is None
    assert rules.digest_due(at(MONDAY, 23, 59), CDMX, settings) is None


# ---------------------------------------------------------------- counts and words
def test_open_alarms_are_counted_by_code_most_frequent_first_then_by_name():
    alarms = [{"code": "visit_overdue"}, {"code": "agent_silent"}, {"code": "visit_overdue"},
              {"code": "promise_broken"}, {"code": "agent_silent"}, {"code": "visit_overdue"}, {"code": "debtor_deceased"}]
    assert rules.open_by_code(alarms) == [("visit_overdue", 3), ("agent_silent", 2), ("debtor_deceased", 1),
                                          ("promise_broken", 1)]
    assert rules.open_by_code([]) == []


@pytest.mark.parametrize(
    "policy, expected",
    [({"locale": "en"}, "en"), ({"locale": "es-MX"}, "es-MX"), ({}, "es-MX"), ({"locale": "fr"}, "es-MX"),
     (DEFAULT_POLICY, "es-MX")],
)
def test_the_emails_are_in_english_only_when_the_policy_says_so(policy, expected):
    assert rules.locale_of(policy) == expected


def test_labels_follow_the_locale():
    assert rules.label("agent_silent", "en") == "Agent without pings"
    assert rules.label("agent_silent", "es-MX") == "Gestor sin señal"
    assert rules.label("visit_overdue", "es-MX") == "Visita fuera de plazo"


def test_an_unknown_locale_falls_back_to_spanish_and_an_unknown_code_to_its_words():
    assert rules.label("promise_broken", "fr") == "Promesa incumplida"
    assert rules.label("brand_new_code", "en") == "brand new code"
    assert rules.label("brand_new_code", "es-MX") == "brand new code"


def test_every_label_exists_in_both_locales_and_covers_the_default_urgent_codes():
    assert set(rules.LABELS["en"]) == set(rules.LABELS["es-MX"])
    for code in DEFAULT_POLICY["alarms"]["urgent_codes"]:
        assert code in rules.LABELS["en"]
        assert rules.label(code, "en") != rules.label(code, "es-MX")
