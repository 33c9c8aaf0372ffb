"""SPEC §5: contact hours, caps, stops and addresses (campaign.contact_rules), pinned at their boundaries."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.campaign import contact_rules as cr
from cobranza.tenants.policy import DEFAULT_POLICY

UTC = timezone.utc
CDMX, TIJUANA, CANCUN = "America/Mexico_City", "America/Tijuana", "America/Cancun"
ZONES = (CDMX, TIJUANA, CANCUN)
DEFAULT = cr.Rules()
NARROW = cr.Rules.from_policy({"contact_rules": {"window_start": "08:00", "window_end": "21:00"}})


def local(tz, *args):
    """An aware datetime on the wall clock of ``tz``."""
    return datetime(*args, tzinfo=ZoneInfo(tz))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def contactable(**overrides):
    """An account every rule lets through on every automated channel."""
    account = {"status": "active", "stage": "administrative", "timezone": CDMX, "email": "deudor@example.mx",
               "phone": "+525512345678", "whatsapp_opt_in": True}
    account.update(overrides)
    return account


# ---------------------------------------------------------------- the policy's rules
def test_the_default_policy_gives_the_legal_window_and_the_default_caps():
    rules = cr.Rules.from_policy(DEFAULT_POLICY)
    assert rules == DEFAULT == cr.Rules.from_policy({})
    assert rules.summary("America/Mexico_City") == \
        "07:00-22:00 America/Mexico_City; 1/day; 7/7 days; promise grace 2 days"


def test_a_policy_may_narrow_the_window():
    assert (NARROW.window_start, NARROW.window_end) == (time(8, 0), time(21, 0))
    assert NARROW.summary("America/Cancun").startswith("08:00-21:00 America/Cancun;")


@pytest.mark.parametrize(
    "start, end, expected",
    [
        ("06:00", "23:00", "07:00-22:00"),
        ("00:00", "23:59", "07:00-22:00"),
        ("06:30", "21:00", "07:00-21:00"),
        ("09:00", "22:30", "09:00-22:00"),
    ],
)
def test_a_policy_can_never_widen_the_window_beyond_the_legal_hours(start, end, expected):
    rules = cr.Rules.from_policy({"contact_rules": {"window_start": start, "window_end": end}})
    assert rules.summary("America/Tijuana").split(" ")[0] == expected


def test_a_policy_sets_the_caps_and_the_promise_grace():
    rules = cr.Rules.from_policy({"contact_rules": {"max_per_day": 0, "max_per_7_days": 3, "promise_grace_days": 5}})
    assert (rules.max_per_day, rules.max_per_7_days, rules.promise_grace_days) == (0, 3, 5)


# ---------------------------------------------------------------- hours
@pytest.mark.parametrize(
    "wall, inside",
    [((6, 59, 59), False), ((7, 0, 0), True), ((12, 0, 0), True), ((21, 59, 59), True), ((22, 0, 0), False),
     ((23, 30, 0), False), ((0, 0, 0), False)],
)
def test_the_window_includes_its_start_and_excludes_its_end(wall, inside):
    assert cr.in_window(local(CDMX, 2026, 10, 5, *wall), CDMX, DEFAULT) is inside


def test_a_moment_inside_the_window_opens_at_itself():
    for wall in ((7, 0, 0), (21, 59, 59)):
        moment = local(CDMX, 2026, 10, 5, *wall)
        assert cr.window_opening(moment, CDMX, DEFAULT) == moment


def test_just_before_seven_is_deferred_to_seven_the_same_day():
    opening = cr.window_opening(local(CDMX, 2026, 10, 5, 6, 59, 59), CDMX, DEFAULT)
    assert opening == local(CDMX, 2026, 10, 5, 7, 0)


def test_ten_at_night_is_deferred_to_seven_the_next_day():
    opening = cr.window_opening(local(CDMX, 2026, 10, 5, 22, 0, 0), CDMX, DEFAULT)
    assert opening == local(CDMX, 2026, 10, 6, 7, 0)


def test_late_evening_crosses_the_day_boundary_to_seven_the_next_morning():
    assert cr.window_opening(local(CDMX, 2026, 10, 5, 23, 30), CDMX, DEFAULT) == local(CDMX, 2026, 10, 6, 7, 0)
    # ... and across a month and a year end
    assert cr.window_opening(local(CDMX, 2026, 12, 31, 23, 30), CDMX, DEFAULT) == local(CDMX, 2027, 1, 1, 7, 0)


def test_the_opening_is_given_in_the_zone_of_the_moment():
    moment = utc(2026, 10, 5, 12, 0)  # 06:00 in Mexico City
    opening = cr.window_opening(moment, CDMX, DEFAULT)
    assert opening.utcoffset() == timedelta(0)
    assert opening == utc(2026, 10, 5, 13, 0)


@pytest.mark.parametrize(
    "wall, opening",
    [
        ((7, 0, 0), (2026, 10, 5, 8, 0)),
        ((7, 59, 59), (2026, 10, 5, 8, 0)),
        ((8, 0, 0), None),
        ((20, 59, 59), None),
        ((21, 0, 0), (2026, 10, 6, 8, 0)),
        ((21, 30, 0), (2026, 10, 6, 8, 0)),
    ],
)
def test_a_narrowed_window_defers_to_its_own_opening(wall, opening):
    moment = local(CDMX, 2026, 10, 5, *wall)
    expected = moment if opening is None else local(CDMX, *opening)
    assert cr.in_window(moment, CDMX, NARROW) is (opening is None)
    assert cr.window_opening(moment, CDMX, NARROW) == expected


def test_the_window_closes_at_the_end_of_the_local_day_window():
    moment = utc(2026, 10, 5, 16, 0)  # 10:00 in Mexico City
    assert cr.window_closing(moment, CDMX, DEFAULT) == local(CDMX, 2026, 10, 5, 22, 0) == utc(2026, 10, 6, 4, 0)
    assert cr.window_closing(moment, CDMX, NARROW) == local(CDMX, 2026, 10, 5, 21, 0)


# ---------------------------------------------------------------- time zones
@pytest.mark.parametrize(
    "tz, day, offset_hours",
    [
        (TIJUANA, date(2026, 1, 15), -8),
        (TIJUANA, date(2026, 3, 7), -8),   # the day before the US spring forward
        (TIJUANA, date(2026, 3, 8), -7),   # spring forward (02:00 -> 03:00)
        (TIJUANA, date(2026, 7, 1), -7),
        (TIJUANA, date(2026, 10, 31), -7),
        (TIJUANA, date(2026, 11, 1), -8),  # fall back (02:00 -> 01:00)
        (CANCUN, date(2026, 1, 15), -5),
        (CANCUN, date(2026, 7, 1), -5),
        (CDMX, date(2026, 1, 15), -6),
        (CDMX, date(2026, 7, 1), -6),      # no daylight saving time since 2022
    ],
)
def test_seven_in_the_morning_is_at_the_zones_offset_of_that_day(tz, day, offset_hours):
    before_dawn = datetime.combine(day, time(10, 0), tzinfo=UTC)  # 02:00-05:00 local on that day
    assert not cr.in_window(before_dawn, tz, DEFAULT)
    opening = cr.window_opening(before_dawn, tz, DEFAULT)
    assert opening == datetime.combine(day, time(7, 0), tzinfo=UTC) - timedelta(hours=offset_hours)


def test_the_same_utc_instant_is_inside_for_one_zone_and_outside_for_another():
    winter = utc(2026, 1, 15, 13, 30)  # 07:30 CDMX, 05:30 Tijuana, 08:30 Cancún
    assert cr.in_window(winter, CDMX, DEFAULT)
    assert not cr.in_window(winter, TIJUANA, DEFAULT)
    assert cr.in_window(winter, CANCUN, DEFAULT)
    assert cr.window_opening(winter, TIJUANA, DEFAULT) == utc(2026, 1, 15, 15, 0)  # 07:00 PST


def test_tijuana_opens_an_hour_earlier_in_utc_in_summer():
    summer = utc(2026, 7, 15, 13, 30)  # 07:30 CDMX, 06:30 Tijuana (PDT), 08:30 Cancún
    assert cr.in_window(summer, CDMX, DEFAULT) and cr.in_window(summer, CANCUN, DEFAULT)
    assert not cr.in_window(summer, TIJUANA, DEFAULT)
    assert cr.window_opening(summer, TIJUANA, DEFAULT) == utc(2026, 7, 15, 14, 0)  # 07:00 PDT


def test_the_night_of_the_spring_forward_is_an_hour_shorter_in_tijuana():
    closing = utc(2026, 3, 8, 6, 0)  # 22:00 PST on 7 March
    assert not cr.in_window(closing, TIJUANA, DEFAULT)
    assert cr.in_window(closing - timedelta(seconds=1), TIJUANA, DEFAULT)
    opening = cr.window_opening(closing, TIJUANA, DEFAULT)
    assert opening == utc(2026, 3, 8, 14, 0)  # 07:00 PDT on 8 March
    assert opening - closing == timedelta(hours=8)


def test_the_night_of_the_fall_back_is_an_hour_longer_in_tijuana():
    closing = utc(2026, 11, 1, 5, 0)  # 22:00 PDT on 31 October
    assert not cr.in_window(closing, TIJUANA, DEFAULT)
    ambiguous = utc(2026, 11, 1, 8, 30)  # 01:30 PDT, the first of the two 01:30s
    opening = cr.window_opening(ambiguous, TIJUANA, DEFAULT)
    assert opening == cr.window_opening(closing, TIJUANA, DEFAULT) == utc(2026, 11, 1, 15, 0)  # 07:00 PST
    assert opening - closing == timedelta(hours=10)


def test_mexico_city_keeps_the_same_utc_opening_all_year():
    for day in (date(2026, 1, 15), date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 30)):
        before_dawn = datetime.combine(day, time(10, 0), tzinfo=UTC)  # 04:00 local
        assert cr.window_opening(before_dawn, CDMX, DEFAULT) == datetime.combine(day, time(13, 0), tzinfo=UTC)


def test_cancun_keeps_the_same_utc_opening_all_year():
    for day in (date(2026, 1, 15), date(2026, 3, 8), date(2026, 7, 15), date(2026, 11, 1)):
        before_dawn = datetime.combine(day, time(10, 0), tzinfo=UTC)  # 05:00 local
        assert cr.window_opening(before_dawn, CANCUN, DEFAULT) == datetime.combine(day, time(12, 0), tzinfo=UTC)


# ---------------------------------------------------------------- caps
def test_no_contacts_break_no_cap():
    assert cr.cap_reason([], local(CDMX, 2026, 10, 5, 10, 0), CDMX, DEFAULT) is None


def test_one_contact_earlier_the_same_local_day_hits_the_daily_cap():
    moment = local(CDMX, 2026, 10, 5, 21, 0)
    assert cr.cap_reason([local(CDMX, 2026, 10, 5, 7, 0)], moment, CDMX, DEFAULT) == "daily_cap"


def test_the_daily_cap_counts_every_channel():
    log = [cr.log_entry(local(CDMX, 2026, 10, 5, 8, 0), "email", "att_a")]
    moment = local(CDMX, 2026, 10, 5, 12, 0)
    for channel in ("sms", "whatsapp", "email"):
        assert cr.decide(contactable(), channel, moment, cr.parse_contacts(log), DEFAULT) == cr.Decision("skip", "daily_cap")


def test_a_contact_late_yesterday_local_does_not_count_for_today_even_on_the_same_utc_date():
    yesterday_late = local(CDMX, 2026, 10, 4, 23, 30)  # 05:30Z on 5 October
    moment = local(CDMX, 2026, 10, 5, 10, 0)           # 16:00Z on 5 October
    assert yesterday_late.astimezone(UTC).date() == moment.astimezone(UTC).date()
    assert cr.cap_reason([yesterday_late], moment, CDMX, DEFAULT) is None


def test_a_contact_on_the_same_local_day_counts_even_on_another_utc_date():
    morning = local(CDMX, 2026, 10, 5, 8, 0)   # 14:00Z on 5 October
    evening = local(CDMX, 2026, 10, 5, 21, 0)  # 03:00Z on 6 October
    assert morning.astimezone(UTC).date() != evening.astimezone(UTC).date()
    assert cr.cap_reason([morning], evening, CDMX, DEFAULT) == "daily_cap"


def test_the_local_day_is_the_debtors_not_utcs():
    contact = utc(2026, 10, 5, 6, 30)  # 00:30 CDMX on the 5th; 23:30 Tijuana (PDT) on the 4th
    moment = utc(2026, 10, 5, 16, 0)   # 10:00 CDMX, 09:00 Tijuana, both on the 5th
    assert cr.cap_reason([contact], moment, CDMX, DEFAULT) == "daily_cap"
    assert cr.cap_reason([contact], moment, TIJUANA, DEFAULT) is None


def test_a_daily_cap_of_zero_blocks_every_contact():
    rules = cr.Rules.from_policy({"contact_rules": {"max_per_day": 0}})
    assert cr.cap_reason([], local(CDMX, 2026, 10, 5, 10, 0), CDMX, rules) == "daily_cap"


WEEKLY = cr.Rules.from_policy({"contact_rules": {"max_per_7_days": 3}})


def test_the_weekly_cap_counts_the_seven_local_days_ending_today():
    moment = local(CDMX, 2026, 10, 10, 12, 0)
    contacts = [local(CDMX, 2026, 10, day, 9, 0) for day in (4, 6, 9)]  # 6, 4 and 1 days ago
    assert cr.cap_reason(contacts, moment, CDMX, WEEKLY) == "weekly_cap"
    assert cr.cap_reason(contacts[:2], moment, CDMX, WEEKLY) is None


def test_a_contact_seven_local_days_ago_has_left_the_week():
    moment = local(CDMX, 2026, 10, 10, 8, 0)
    contacts = [local(CDMX, 2026, 10, 3, 21, 59), local(CDMX, 2026, 10, 6, 9, 0), local(CDMX, 2026, 10, 9, 9, 0)]
    assert cr.cap_reason(contacts, moment, CDMX, WEEKLY) is None
    # the first local minute six days ago still counts
    contacts[0] = local(CDMX, 2026, 10, 4, 0, 0)
    assert cr.cap_reason(contacts, moment, CDMX, WEEKLY) == "weekly_cap"


def test_the_daily_cap_is_reported_before_the_weekly_cap():
    moment = local(CDMX, 2026, 10, 10, 12, 0)
    contacts = [local(CDMX, 2026, 10, day, 9, 0) for day in (5, 7, 10)]
    assert cr.cap_reason(contacts, moment, CDMX, WEEKLY) == "daily_cap"


def test_the_default_weekly_cap_allows_one_contact_a_day():
    moment = local(CDMX, 2026, 10, 10, 12, 0)
    six_days = [local(CDMX, 2026, 10, day, 9, 0) for day in range(4, 10)]
    assert cr.cap_reason(six_days, moment, CDMX, DEFAULT) is None
    assert cr.cap_reason(six_days + [local(CDMX, 2026, 10, 3, 9, 0)], moment, CDMX, DEFAULT) is None
    two_a_day = six_days + [local(CDMX, 2026, 10, 9, 20, 0)]
    assert cr.cap_reason(two_a_day, moment, CDMX, DEFAULT) == "weekly_cap"


# ---------------------------------------------------------------- stops and addresses
TODAY = date(2026, 10, 5)


@pytest.mark.parametrize("status", ["paid", "settled", "disputed", "withdrawn", "legal", "payment_reported"])
def test_stop_statuses_block_every_channel(status):
    for channel in ("email", "sms", "whatsapp"):
        assert cr.stop_reason(contactable(status=status), channel, TODAY, DEFAULT) == f"status_{status}"


@pytest.mark.parametrize("status", ["active", None])
def test_an_active_account_or_one_without_status_may_be_contacted(status):
    account = contactable()
    if status is None:
        del account["status"]
    assert cr.stop_reason(account, "email", TODAY, DEFAULT) is None


def test_a_promise_blocks_until_its_date_plus_the_grace_days_inclusive():
    account = contactable(status="promised", promise_date="2026-10-05")
    for day in (date(2026, 10, 1), date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)):
        assert cr.stop_reason(account, "sms", day, DEFAULT) == "status_promised"
    assert cr.stop_reason(account, "sms", date(2026, 10, 8), DEFAULT) is None


def test_the_promise_grace_comes_from_the_policy():
    account = contactable(status="promised", promise_date="2026-10-05")
    no_grace = cr.Rules.from_policy({"contact_rules": {"promise_grace_days": 0}})
    assert cr.stop_reason(account, "sms", date(2026, 10, 5), no_grace) == "status_promised"
    assert cr.stop_reason(account, "sms", date(2026, 10, 6), no_grace) is None


@pytest.mark.parametrize("promise_date", [None, ""])
def test_a_promise_without_a_date_blocks(promise_date):
    account = contactable(status="promised", promise_date=promise_date)
    assert cr.stop_reason(account, "email", date(2030, 1, 1), DEFAULT) == "status_promised"


def test_the_judicial_stage_blocks_automatic_reminders():
    assert cr.stop_reason(contactable(stage="judicial"), "email", TODAY, DEFAULT) == "judicial"


def test_an_opted_out_channel_is_never_used_but_the_others_are():
    account = contactable(opted_out_channels=["sms"])
    assert cr.stop_reason(account, "sms", TODAY, DEFAULT) == "opted_out"
    assert cr.stop_reason(account, "whatsapp", TODAY, DEFAULT) is None
    assert cr.stop_reason(account, "email", TODAY, DEFAULT) is None


def test_opting_out_of_all_blocks_every_channel():
    account = contactable(opted_out_channels={"all"})
    for channel in ("email", "sms", "whatsapp"):
        assert cr.stop_reason(account, channel, TODAY, DEFAULT) == "opted_out"


@pytest.mark.parametrize(
    "missing, blocked, allowed",
    [("email", ["email"], ["sms", "whatsapp"]), ("phone", ["sms", "whatsapp"], ["email"])],
)
def test_each_channel_needs_its_own_address(missing, blocked, allowed):
    for absent in (None, ""):
        account = contactable(**{missing: absent})
        for channel in blocked:
            assert cr.stop_reason(account, channel, TODAY, DEFAULT) == "no_address"
        for channel in allowed:
            assert cr.stop_reason(account, channel, TODAY, DEFAULT) is None


def test_a_channel_the_provider_refused_is_not_used_again():
    account = contactable(unusable_channels=["email"])
    assert cr.stop_reason(account, "email", TODAY, DEFAULT) == "address_invalid"
    assert cr.stop_reason(account, "sms", TODAY, DEFAULT) is None


@pytest.mark.parametrize("opt_in", [False, None, "true", 1])
def test_whatsapp_needs_an_opt_in_that_is_exactly_true(opt_in):
    account = contactable(whatsapp_opt_in=opt_in)
    assert cr.stop_reason(account, "whatsapp", TODAY, DEFAULT) == "no_whatsapp_opt_in"
    assert cr.stop_reason(account, "sms", TODAY, DEFAULT) is None


def test_whatsapp_without_any_opt_in_field_is_blocked():
    account = contactable()
    del account["whatsapp_opt_in"]
    assert cr.stop_reason(account, "whatsapp", TODAY, DEFAULT) == "no_whatsapp_opt_in"


def test_a_channel_without_an_address_field_is_unknown():
    assert cr.stop_reason(contactable(), "field_visit", TODAY, DEFAULT) == "channel_unknown"


# ---------------------------------------------------------------- decide
def test_inside_the_window_with_nothing_in_the_way_it_sends_now():
    moment = utc(2026, 10, 5, 16, 0)  # 10:00 CDMX
    decision = cr.decide(contactable(), "email", moment, [], DEFAULT)
    assert decision == cr.Decision("send", None, moment)
    assert decision.status == "planned"


def test_outside_the_window_it_defers_to_the_next_opening():
    moment = utc(2026, 10, 6, 4, 30)  # 22:30 CDMX on the 5th
    decision = cr.decide(contactable(), "sms", moment, [], DEFAULT)
    assert decision == cr.Decision("defer", "outside_hours", utc(2026, 10, 6, 13, 0))  # 07:00 CDMX on the 6th
    assert decision.status == "deferred"


def test_a_stop_skips_without_a_send_time():
    decision = cr.decide(contactable(status="paid"), "email", utc(2026, 10, 5, 16, 0), [], DEFAULT)
    assert decision == cr.Decision("skip", "status_paid", None)
    assert decision.status == "skipped"


def test_a_stop_skips_even_outside_the_window():
    decision = cr.decide(contactable(opted_out_channels=["all"]), "email", utc(2026, 10, 6, 4, 30), [], DEFAULT)
    assert (decision.action, decision.reason) == ("skip", "opted_out")


def test_the_account_time_zone_decides_the_hours():
    moment = utc(2026, 1, 15, 13, 30)
    assert cr.decide(contactable(timezone=CDMX), "email", moment, [], DEFAULT).action == "send"
    assert cr.decide(contactable(timezone=CANCUN), "email", moment, [], DEFAULT).action == "send"
    tijuana = cr.decide(contactable(timezone=TIJUANA), "email", moment, [], DEFAULT)
    assert tijuana == cr.Decision("defer", "outside_hours", utc(2026, 1, 15, 15, 0))


def test_an_account_without_a_time_zone_is_judged_in_mexico_city():
    account = contactable()
    del account["timezone"]
    assert cr.decide(account, "email", utc(2026, 1, 15, 12, 30), [], DEFAULT).send_at == utc(2026, 1, 15, 13, 0)
    account["timezone"] = None
    assert cr.decide(account, "email", utc(2026, 1, 15, 13, 30), [], DEFAULT).action == "send"


def test_a_deferral_is_judged_against_the_day_it_will_be_sent():
    contacted_today = [local(CDMX, 2026, 10, 5, 9, 0)]
    late = local(CDMX, 2026, 10, 5, 22, 30)
    assert cr.decide(contactable(), "sms", late, contacted_today, DEFAULT) == cr.Decision(
        "defer", "outside_hours", local(CDMX, 2026, 10, 6, 7, 0))
    # while inside today's window the same history hits the daily cap
    assert cr.decide(contactable(), "sms", local(CDMX, 2026, 10, 5, 21, 0), contacted_today, DEFAULT).reason == "daily_cap"


def test_a_promise_ending_today_lets_a_late_attempt_defer_to_tomorrow():
    account = contactable(status="promised", promise_date="2026-10-03")  # blocked up to the 5th
    assert cr.decide(account, "email", local(CDMX, 2026, 10, 5, 21, 0), [], DEFAULT).reason == "status_promised"
    assert cr.decide(account, "email", local(CDMX, 2026, 10, 5, 22, 0), [], DEFAULT).action == "defer"
    assert cr.decide(account, "email", local(CDMX, 2026, 10, 6, 7, 0), [], DEFAULT).action == "send"


def test_stops_are_reported_before_caps():
    contacts = [local(CDMX, 2026, 10, 5, 8, 0)]
    decision = cr.decide(contactable(phone=None), "sms", local(CDMX, 2026, 10, 5, 12, 0), contacts, DEFAULT)
    assert decision.reason == "no_address"


# ---------------------------------------------------------------- the contact log
def test_a_log_entry_is_the_utc_second_the_channel_and_the_attempt():
    entry = cr.log_entry(local(CDMX, 2026, 10, 5, 12, 0, 30, 999_999), "sms", "att_0123")
    assert entry == "2026-10-05T18:00:30Z|sms|att_0123"


def test_parsing_the_log_gives_the_instants_back():
    moments = [utc(2026, 10, 5, 18, 0, 30), local(TIJUANA, 2026, 3, 8, 7, 0)]
    log = [cr.log_entry(m, "email", f"att_{i}") for i, m in enumerate(moments)]
    assert cr.parse_contacts(log) == moments
    assert all(p.utcoffset() == timedelta(0) for p in cr.parse_contacts(log))
    assert cr.parse_contacts(None) == [] and cr.parse_contacts([]) == []


def test_trimming_keeps_the_last_eight_days():
    now = utc(2026, 10, 10, 12, 0)
    entries = {age: cr.log_entry(now - age, "email", f"att_{i}")
               for i, age in enumerate([timedelta(days=8, seconds=1), timedelta(days=8),
                                        timedelta(days=8) - timedelta(seconds=1), timedelta(days=1), timedelta(0)])}
    kept = cr.trim_log(list(entries.values()), now)
    assert kept == [entries[timedelta(days=8) - timedelta(seconds=1)], entries[timedelta(days=1)], entries[timedelta(0)]]
    assert cr.trim_log(None, now) == []


def test_trimming_never_drops_a_contact_that_a_cap_still_counts():
    for tz in ZONES:
        now = local(tz, 2026, 10, 10, 21, 59, 59)  # the latest moment of today's window
        oldest_counted = local(tz, 2026, 10, 4, 0, 0)  # the first minute six local days ago
        log = [cr.log_entry(oldest_counted, "sms", "att_old")]
        assert cr.trim_log(log, now) == log


def test_logged_finds_a_claimed_attempt_by_its_exact_id():
    log = [cr.log_entry(utc(2026, 10, 5, 18, 0), "sms", "att_10"), cr.log_entry(utc(2026, 10, 6, 18, 0), "email", "att_2")]
    assert cr.logged(log, "att_10") and cr.logged(log, "att_2")
    assert not cr.logged(log, "att_1")
    assert not cr.logged(log, "sms")
    assert not cr.logged(None, "att_10") and not cr.logged([], "att_10")


# ---------------------------------------------------------------- properties
MOMENT_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-6)), timezone(timedelta(hours=5, minutes=30)),
                                ZoneInfo(CDMX), ZoneInfo(TIJUANA), ZoneInfo(CANCUN)])
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31, 23, 59, 59),
                       timezones=MOMENT_ZONES, allow_imaginary=False)
zones = st.sampled_from(ZONES)


@st.composite
def narrowed_rules(draw):
    start = draw(st.integers(7 * 60, 22 * 60 - 1))
    end = draw(st.integers(start + 1, 22 * 60))
    return cr.Rules(time(start // 60, start % 60), time(end // 60, end % 60),
                    max_per_day=draw(st.integers(0, 2)), max_per_7_days=draw(st.integers(0, 7)))


any_rules = st.one_of(st.just(DEFAULT), narrowed_rules())


def _seconds(a, b):
    """Elapsed seconds from a to b (real time, whatever their zones)."""
    return b.timestamp() - a.timestamp()


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, rules=any_rules)
def test_the_window_opening_is_the_first_allowed_instant_within_a_day(moment, tz, rules):
    opening = cr.window_opening(moment, tz, rules)
    waited = _seconds(moment, opening)
    # at most the next local day, which lasts 25 hours when the clocks go back
    assert 0 <= waited <= 25 * 3600
    zone = ZoneInfo(tz)
    assert (opening.astimezone(zone).date() - moment.astimezone(zone).date()).days <= 1
    assert cr.in_window(opening, tz, rules)
    if cr.in_window(moment, tz, rules):
        assert waited == 0
    else:
        assert waited > 0
        # never early: the second before the opening is still closed
        assert not cr.in_window(opening - timedelta(seconds=1), tz, rules)
        assert opening.astimezone(ZoneInfo(tz)).time() == rules.window_start


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, rules=any_rules)
def test_the_window_closing_is_the_end_of_the_window_of_the_moments_local_day(moment, tz, rules):
    closing = cr.window_closing(moment, tz, rules)
    local_closing = closing.astimezone(ZoneInfo(tz))
    assert local_closing.date() == moment.astimezone(ZoneInfo(tz)).date()
    assert local_closing.time() == rules.window_end
    assert not cr.in_window(closing, tz, rules)
    assert cr.in_window(closing - timedelta(seconds=1), tz, rules)


def _local_days(contacts, tz):
    return [c.astimezone(ZoneInfo(tz)).date() for c in contacts]


@settings(max_examples=400, deadline=None)
@given(moment=moments, tz=zones, rules=any_rules, channel=st.sampled_from(["email", "sms", "whatsapp"]),
       offsets=st.lists(st.integers(-10 * 24 * 3600, 2 * 24 * 3600), max_size=12))
def test_a_decision_respects_the_window_and_the_caps(moment, tz, rules, channel, offsets):
    contacts = [moment + timedelta(seconds=s) for s in offsets]
    decision = cr.decide(contactable(timezone=tz), channel, moment, contacts, rules)
    if decision.action == "skip":
        assert decision.send_at is None
        assert decision.reason in ("daily_cap", "weekly_cap")
        return
    assert cr.in_window(decision.send_at, tz, rules)
    if decision.action == "send":
        assert decision.send_at.timestamp() == moment.timestamp() and cr.in_window(moment, tz, rules)
    else:
        assert decision == cr.Decision("defer", "outside_hours", decision.send_at)
        assert not cr.in_window(moment, tz, rules) and _seconds(moment, decision.send_at) > 0
    # counted independently: the debtor's local day of the send and the six days before it
    today = decision.send_at.astimezone(ZoneInfo(tz)).date()
    days = _local_days(contacts, tz)
    assert sum(d == today for d in days) < rules.max_per_day
    assert sum(today - timedelta(days=6) <= d <= today for d in days) < rules.max_per_7_days


@settings(max_examples=300, deadline=None)
@given(moment=moments, tz=zones, rules=any_rules, offsets=st.lists(st.integers(-10 * 24 * 3600, 0), max_size=12))
def test_a_contactable_account_is_skipped_only_for_a_cap_it_really_hit(moment, tz, rules, offsets):
    contacts = [moment + timedelta(seconds=s) for s in offsets]
    decision = cr.decide(contactable(timezone=tz), "email", moment, contacts, rules)
    today = cr.window_opening(moment, tz, rules).astimezone(ZoneInfo(tz)).date()
    days = _local_days(contacts, tz)
    daily = sum(d == today for d in days) >= rules.max_per_day
    weekly = sum(today - timedelta(days=6) <= d <= today for d in days) >= rules.max_per_7_days
    expected = "daily_cap" if daily else "weekly_cap" if weekly else None
    assert (decision.action == "skip") is (expected is not None)
    assert decision.reason == expected or (expected is None and decision.reason in (None, "outside_hours"))


@settings(max_examples=300, deadline=None)
@given(moment=moments, tz=zones, rules=any_rules, status=st.sampled_from(sorted(cr.STOP_STATUSES)),
       channel=st.sampled_from(["email", "sms", "whatsapp"]),
       offsets=st.lists(st.integers(-10 * 24 * 3600, 0), max_size=5))
def test_a_stop_status_always_skips(moment, tz, rules, status, channel, offsets):
    contacts = [moment + timedelta(seconds=s) for s in offsets]
    decision = cr.decide(contactable(timezone=tz, status=status), channel, moment, contacts, rules)
    assert decision == cr.Decision("skip", f"status_{status}")
    assert decision.status == "skipped"


@settings(max_examples=200, deadline=None)
@given(moment=moments, channel=st.sampled_from(["email", "sms", "whatsapp"]),
       attempt=st.text(alphabet="abcdef0123456789_", min_size=1, max_size=30))
def test_a_log_entry_round_trips_its_instant_and_attempt(moment, channel, attempt):
    entry = cr.log_entry(moment, channel, attempt)
    (parsed,) = cr.parse_contacts([entry])
    assert parsed.timestamp() == moment.replace(microsecond=0).timestamp()  # (== is never true for a repeated hour)
    assert cr.logged([entry], attempt)
    assert cr.trim_log([entry], moment) == [entry]


# ---------------------------------------------------------------- known defect (see the report)
def test_a_moment_in_a_repeated_hour_of_its_own_zone_is_still_deferred():
    auckland = ZoneInfo("Pacific/Auckland")
    moment = datetime(2020, 4, 5, 2, 0, tzinfo=auckland)  # first 02:00 NZDT = 13:00Z = 06:00 PDT in Tijuana
    assert not cr.in_window(moment, TIJUANA, DEFAULT)
    decision = cr.decide(contactable(timezone=TIJUANA), "email", moment, [], DEFAULT)
    assert decision.action == "defer"


def test_a_policy_whose_window_closes_before_it_opens_is_refused():
    from cobranza.tenants.policy import PolicyError, validate_policy

    with pytest.raises(PolicyError) as refused:
        validate_policy({"contact_rules": {"window_start": "21:00", "window_end": "08:00"}})
    assert refused.value.details == [{"field": "contact_rules", "message": "window_start must be before window_end"}]
