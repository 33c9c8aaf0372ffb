"""SPEC §8: the KPIs from counters (kpis.rules): what each event counts, how a day's items add up
(by segment), the rates, the cost, the roll-rate matrix and the best-hours matrix."""
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from cobranza.accounts.segmentation import AGING_BUCKETS
from cobranza.kpis import rules
from cobranza.tenants.policy import DEFAULT_POLICY

UTC = timezone.utc
CDMX, TIJUANA = "America/Mexico_City", "America/Tijuana"
PRICES = DEFAULT_POLICY["kpis"]["channel_prices"]  # email 0.0018, sms 0.48, whatsapp 0.15, call 0, field_visit 0
FIRST, LAST = date(2026, 3, 1), date(2026, 3, 31)


def item(day, segment, counters, shard=0, **attributes):
    """A counters item as the store reads it back (numbers as Decimal)."""
    return {"kpi_key": f"t-1#{day[:7]}", "item_key": rules.day_item_key(day, segment, shard),
            **{name: Decimal(str(value)) for name, value in counters.items()}, **attributes}


def level(day, counters):
    return item(day, rules.LEVEL_SEGMENT, counters)


def totals(counters, level_counters=None, agent_days=0):
    return rules.Totals({k: Decimal(str(v)) for k, v in counters.items()},
                        None if level_counters is None else {k: Decimal(str(v)) for k, v in level_counters.items()},
                        agent_days)


# ---------------------------------------------------------------- what an event counts
def test_the_hour_slot_is_the_debtor_s_local_weekday_from_monday_and_padded_hour():
    assert rules.hour_slot(datetime(2026, 3, 2, 15, 5, tzinfo=UTC), CDMX) == "0_09"  # Monday 09:05 in Mexico City
    # Monday 03:30 UTC is still Sunday evening for the debtor.
    assert rules.hour_slot(datetime(2026, 3, 2, 3, 30, tzinfo=UTC), CDMX) == "6_21"


def test_the_hour_slot_follows_the_debtor_s_zone_with_and_without_daylight_saving():
    winter, summer = datetime(2026, 1, 5, 15, 0, tzinfo=UTC), datetime(2026, 7, 6, 15, 0, tzinfo=UTC)  # Mondays
    # Mexico City has no daylight saving: the same UTC hour is the same local hour all year.
    assert rules.hour_slot(winter, CDMX) == rules.hour_slot(summer, CDMX) == "0_09"
    # Tijuana does: 07:00 in winter, 08:00 in summer.
    assert (rules.hour_slot(winter, TIJUANA), rules.hour_slot(summer, TIJUANA)) == ("0_07", "0_08")


def test_a_reminder_counts_an_attempt_and_a_delivery_only_when_accepted():
    assert rules.attempt_counters("sms", "0_09", delivered=True) == {
        "attempts.sms": 1, "hour.sms.0_09.a": 1, "delivered.sms": 1}
    assert rules.attempt_counters("email", "4_18", delivered=False) == {"attempts.email": 1, "hour.email.4_18.a": 1}


def test_a_contact_counts_a_right_party_contact_only_when_it_reached_the_debtor():
    assert rules.contact_counters("call", "2_11", right_party=True) == {
        "attempts.call": 1, "hour.call.2_11.a": 1, "rpc.call": 1, "hour.call.2_11.r": 1}
    assert rules.contact_counters("call", "2_11", right_party=False) == {"attempts.call": 1, "hour.call.2_11.a": 1}


def test_a_roll_counter_names_the_buckets_from_and_to():
    assert rules.roll_counter("1-30", "31-60") == "roll.1-30>31-60"
    assert rules.roll_counter("91-120", "120+") == "roll.91-120>120+"


# ---------------------------------------------------------------- item keys and ranges
@pytest.mark.parametrize("segment", ["general", "high_value_late", rules.LEVEL_SEGMENT, "cartera norte", "v2.1"])
def test_an_item_key_gives_back_its_day_and_segment_whatever_the_shard(segment):
    keys = {rules.day_item_key("2026-03-02", segment, shard) for shard in range(4)}
    assert len(keys) == 4  # shards are distinct items
    assert {rules.parse_item_key(key) for key in keys} == {("2026-03-02", segment)}


def test_an_item_key_sorts_by_day_first():
    assert rules.day_item_key("2026-03-02", "general") == "2026-03-02#general#0"


def test_a_segment_name_with_a_hash_survives_its_item_key():
    # The policy schema lets a segment be named "norte#1": its counters must not be filed under "norte".
    assert rules.parse_item_key(rules.day_item_key("2026-03-02", "norte#1", 2)) == ("2026-03-02", "norte#1")
    assert rules.parse_item_key(rules.day_item_key("2026-03-02", "a#b#c")) == ("2026-03-02", "a#b#c")
    items = [item("2026-03-02", "norte#1", {"recovered": 7}), item("2026-03-02", "norte", {"recovered": 1})]
    assert rules.add_up(items, FIRST, LAST, "norte#1")["2026-03-02"].counters["recovered"] == 7
    assert rules.add_up(items, FIRST, LAST, "norte")["2026-03-02"].counters["recovered"] == 1


@pytest.mark.parametrize(
    "first, last, expected",
    [
        (date(2025, 12, 15), date(2026, 1, 10), ["2025-12", "2026-01"]),
        (date(2026, 3, 1), date(2026, 3, 31), ["2026-03"]),
        (date(2026, 3, 31), date(2026, 3, 31), ["2026-03"]),
        (date(2026, 1, 31), date(2026, 3, 1), ["2026-01", "2026-02", "2026-03"]),
        (date(2025, 11, 30), date(2026, 2, 1), ["2025-11", "2025-12", "2026-01", "2026-02"]),
    ],
)
def test_months_between_lists_every_month_once_across_years(first, last, expected):
    assert rules.months_between(first, last) == expected


def test_the_longest_range_queries_every_month_it_touches_once():
    months = rules.months_between(date(2025, 1, 31), date(2026, 3, 6))  # 400 days
    assert months[0] == "2025-01" and months[-1] == "2026-03"
    assert len(months) == len(set(months)) == 15


@pytest.mark.parametrize(
    "day, group_by, expected",
    [
        (date(2026, 3, 2), "week", "2026-03-02"),  # a Monday is its own week
        (date(2026, 3, 8), "week", "2026-03-02"),  # Sunday belongs to the week that began on Monday
        (date(2026, 3, 4), "week", "2026-03-02"),
        (date(2026, 1, 1), "week", "2025-12-29"),  # a week across the new year starts in the old one
        (date(2026, 1, 1), "month", "2026-01"),
        (date(2026, 3, 8), "month", "2026-03"),
        (date(2026, 3, 8), "day", "2026-03-08"),
    ],
)
def test_periods_are_the_day_the_monday_of_its_week_or_its_month(day, group_by, expected):
    assert rules.period_of(day, group_by) == expected


# ---------------------------------------------------------------- adding up the items
PORTFOLIO = [
    item("2026-03-02", "late", {"attempts.call": 10, "rpc.call": 4, "recovered": 1000, "payments": 2}),
    item("2026-03-02", "late", {"attempts.call": 5, "rpc.call": 1}, shard=1),
    item("2026-03-02", "early", {"attempts.sms": 7, "delivered.sms": 6, "recovered": 300, "payments": 1}),
    level("2026-03-02", {"n.late.31-60": 20, "owed.late.31-60": 50000, "n.early.1-30": 80, "owed.early.1-30": 40000}),
    item("2026-03-03", "late", {"promises_made": 3}),
]


def test_add_up_sums_shards_and_segments_by_day():
    days = rules.add_up(PORTFOLIO, FIRST, LAST, None)
    assert set(days) == {"2026-03-02", "2026-03-03"}
    day = days["2026-03-02"]
    assert day.counters["attempts.call"] == 15 and day.counters["rpc.call"] == 5
    assert day.counters["attempts.sms"] == 7
    assert day.counters["recovered"] == 1300 and day.counters["payments"] == 3
    assert dict(day.level) == {"n.31-60": 20, "owed.31-60": 50000, "n.1-30": 80, "owed.1-30": 40000}
    assert days["2026-03-03"].level is None  # no night copied yet


def test_a_segment_filter_keeps_only_that_segment_s_counters_and_levels():
    days = rules.add_up(PORTFOLIO, FIRST, LAST, "late")
    day = days["2026-03-02"]
    assert day.counters["attempts.call"] == 15 and day.counters["recovered"] == 1000 and day.counters["payments"] == 2
    assert day.counters["attempts.sms"] == 0 and day.counters["delivered.sms"] == 0
    assert dict(day.level) == {"n.31-60": 20, "owed.31-60": 50000}
    early = rules.add_up(PORTFOLIO, FIRST, LAST, "early")["2026-03-02"]
    assert early.counters["recovered"] == 300 and early.counters["attempts.call"] == 0
    assert dict(early.level) == {"n.1-30": 80, "owed.1-30": 40000}


def test_the_same_bucket_of_different_segments_adds_up_without_a_filter():
    items = [level("2026-03-02", {"n.a.1-30": 3, "n.b.1-30": 4, "owed.a.1-30": 10, "owed.b.1-30": 5})]
    assert dict(rules.add_up(items, FIRST, LAST, None)["2026-03-02"].level) == {"n.1-30": 7, "owed.1-30": 15}


def test_days_outside_the_range_are_left_out():
    items = [item("2026-02-28", "late", {"recovered": 1}), level("2026-02-28", {"n.late.current": 5}),
             item("2026-03-01", "late", {"recovered": 2}), item("2026-03-31", "late", {"recovered": 4}),
             item("2026-04-01", "late", {"recovered": 8})]
    days = rules.add_up(items, FIRST, LAST, None)
    assert sorted(days) == ["2026-03-01", "2026-03-31"]
    assert sum(t.counters["recovered"] for t in days.values()) == 6


def test_attributes_that_are_not_counters_are_ignored():
    items = [item("2026-03-02", "late", {"recovered": 5, "version": 3, "ttl": 1893456000}, updated_at="2026-03-02T10:00:00Z")]
    counters = rules.add_up(items, FIRST, LAST, None)["2026-03-02"].counters
    assert dict(counters) == {"recovered": 5}


def test_agent_days_count_the_agents_who_visited_that_day_once_each():
    items = [item("2026-03-02", "general", {"visits_done": 3, "visit_agent.ag-1": 2, "visit_agent.ag-2": 1}),
             item("2026-03-02", "general", {"visits_done": 1, "visit_agent.ag-1": 1}, shard=1),
             item("2026-03-03", "general", {"visit_agent.ag-1": 0}),
             item("2026-03-04", "general", {"visits_done": 2, "visit_agent.ag-1": 2})]
    days = rules.add_up(items, FIRST, LAST, None)
    assert [days[d].agent_days for d in sorted(days)] == [2, 0, 1]


def test_the_first_level_is_the_earliest_day_s_that_has_one():
    days = {"2026-03-05": totals({}, {"n.current": 9}), "2026-03-01": totals({}),
            "2026-03-03": totals({}, {"n.current": 7})}
    assert rules.first_level(days) == {"n.current": 7}
    assert rules.first_level({"2026-03-01": totals({})}) is None
    assert rules.first_level({}) is None


# ---------------------------------------------------------------- the summary
def test_nothing_counted_gives_zeros_and_no_rates():
    summary = rules.summarise({}, PRICES)
    assert summary["amount_due_start"] is None and summary["amount_recovered"] == "0.00"
    assert summary["attempts"] == {} and summary["deliveries"] == {} and summary["right_party_contacts"] == {}
    assert summary["cost"] == {} and summary["cost_total"] == "0.00"
    for rate in ("recovery_rate", "delivery_rate", "contact_rate", "kept_rate", "verified_rate",
                 "visits_per_agent_day", "cost_per_amount_recovered"):
        assert summary[rate] is None, rate


def test_the_summary_adds_the_days_and_computes_each_rate():
    days = {
        "2026-03-02": totals({"attempts.email": 600, "delivered.email": 570, "attempts.sms": 200, "delivered.sms": 190,
                              "recovered": 1500, "payments": 3, "promises_made": 4, "promises_kept": 2,
                              "visits_done": 5, "visits_verified": 4},
                             {"n.current": 900, "owed.current": 60000, "n.1-30": 100, "owed.1-30": 40000}, agent_days=2),
        "2026-03-03": totals({"attempts.email": 400, "delivered.email": 380, "attempts.sms": 50, "delivered.sms": 50,
                              "recovered": 1000, "payments": 2, "reversals": 1, "promises_made": 1, "promises_kept": 1,
                              "promises_broken": 1, "visits_done": 3, "visits_verified": 2},
                             {"n.current": 1, "owed.current": 1}, agent_days=1),
    }
    s = rules.summarise(days, PRICES)
    assert s["amount_due_start"] == "100000.00"  # owed at the start of the range (its first level), all buckets
    assert s["amount_recovered"] == "2500.00" and s["recovery_rate"] == 0.025
    assert (s["payments"], s["reversals"]) == (5, 1)
    assert s["attempts"] == {"email": 1000, "sms": 250} and s["deliveries"] == {"email": 950, "sms": 240}
    assert s["delivery_rate"] == 0.952
    assert (s["promises_made"], s["promises_kept"], s["promises_broken"], s["kept_rate"]) == (5, 3, 1, 0.75)
    assert (s["visits_done"], s["visits_verified"], s["verified_rate"]) == (8, 6, 0.75)
    assert s["visits_per_agent_day"] == 2.67  # 8 visits over 3 agent-days, 2 places


def test_cost_is_attempts_times_the_policy_s_price_per_channel():
    days = {"2026-03-02": totals({"attempts.email": 1000, "attempts.sms": 250, "attempts.whatsapp": 10,
                                  "attempts.call": 40, "recovered": 2500})}
    s = rules.summarise(days, PRICES)
    assert s["cost"] == {"email": "1.80", "sms": "120.00", "whatsapp": "1.50", "call": "0.00"}
    assert s["cost_total"] == "123.30"
    assert s["cost_per_amount_recovered"] == round(123.30 / 2500, 4)


def test_a_tenant_s_own_price_is_used_and_a_channel_without_price_costs_nothing():
    days = {"2026-03-02": totals({"attempts.call": 40, "attempts.sms": 3, "attempts.letter": 9, "attempts.other": 2})}
    s = rules.summarise(days, {"call": 12.5, "sms": 0.48})
    assert s["cost"] == {"call": "500.00", "sms": "1.44", "letter": "0.00", "other": "0.00"}
    assert s["cost_total"] == "501.44"
    assert s["cost_per_amount_recovered"] is None  # nothing recovered


def test_a_phone_outcome_costs_a_call_and_an_in_person_one_a_field_visit():
    days = {"2026-03-02": totals({"attempts.phone": 7, "attempts.in_person": 2, "attempts.call": 1})}
    s = rules.summarise(days, {"call": 12.5, "field_visit": 100})
    assert s["cost"] == {"phone": "87.50", "in_person": "200.00", "call": "12.50"}
    assert s["cost_total"] == "300.00"


def test_the_contact_rate_is_right_party_contacts_over_attempts():
    s = rules.summarise({"2026-03-02": totals({"attempts.call": 40, "rpc.call": 10, "attempts.in_person": 10,
                                               "rpc.in_person": 5})}, PRICES)
    assert s["right_party_contacts"] == {"call": 10, "in_person": 5}
    assert s["contact_rate"] == 0.3
    assert s["delivery_rate"] is None  # no reminder was tried


@pytest.mark.parametrize(
    "counters, level_counters, rate",
    [
        ({"recovered": 500}, None, "recovery_rate"),  # no level yet: nothing owed is known
        ({"recovered": 500}, {"n.current": 0, "owed.current": 0}, "recovery_rate"),
        ({"attempts.call": 5}, None, "delivery_rate"),
        ({"promises_made": 4}, None, "kept_rate"),
        ({"visits_verified": 0}, None, "verified_rate"),
        ({"visits_done": 3}, None, "visits_per_agent_day"),  # visits without agent-days
        ({"attempts.sms": 10}, None, "cost_per_amount_recovered"),
        ({"recovered": 500}, None, "contact_rate"),
    ],
)
def test_a_rate_is_none_when_its_denominator_is_zero(counters, level_counters, rate):
    summary = rules.summarise({"2026-03-02": totals(counters, level_counters)}, PRICES)
    assert summary[rate] is None


def test_no_right_party_contact_out_of_attempts_is_a_zero_rate_not_none():
    summary = rules.summarise({"2026-03-02": totals({"attempts.call": 10})}, PRICES)
    assert summary["contact_rate"] == 0.0


def test_the_summary_of_a_segment_comes_from_its_items_only():
    s = rules.summarise(rules.add_up(PORTFOLIO, FIRST, LAST, "late"), PRICES)
    assert s["amount_due_start"] == "50000.00" and s["amount_recovered"] == "1000.00" and s["recovery_rate"] == 0.02
    assert s["attempts"] == {"call": 15} and s["promises_made"] == 3
    everyone = rules.summarise(rules.add_up(PORTFOLIO, FIRST, LAST, None), PRICES)
    assert everyone["amount_due_start"] == "90000.00" and everyone["attempts"] == {"sms": 7, "call": 15}


# ---------------------------------------------------------------- roll rates
def test_the_roll_rate_matrix_follows_the_aging_buckets_from_rows_to_columns():
    days = {
        "2026-03-02": totals({"roll.current>1-30": 30, "roll.1-30>31-60": 2},
                             {"n.current": 300, "n.1-30": 50, "owed.current": 1}),
        "2026-03-03": totals({"roll.1-30>31-60": 3, "roll.1-30>current": 4},
                             {"n.current": 999, "n.1-30": 999}),  # a later level does not change the start
    }
    result = rules.roll_rates(days)
    assert result["buckets"] == list(AGING_BUCKETS)
    size = len(AGING_BUCKETS)
    assert len(result["moved"]) == len(result["rates"]) == size
    assert all(len(row) == size for row in result["moved"] + result["rates"])
    assert result["accounts_at_start"] == [300, 50, 0, 0, 0, 0]
    current, early, late = (AGING_BUCKETS.index(b) for b in ("current", "1-30", "31-60"))
    assert result["moved"][current][early] == 30
    assert result["moved"][early][late] == 5  # both days
    assert result["moved"][early][current] == 4  # a cure rolls back
    assert result["rates"][current][early] == 0.1
    assert result["rates"][early][late] == 0.1 and result["rates"][early][current] == 0.08
    assert result["rates"][current][current] == 0.0  # accounts to divide by, nothing moved
    assert all(rate is None for rate in result["rates"][late])  # no account in 31-60 at the start


def test_a_negative_level_counts_as_nothing_owed_and_no_accounts():
    # A count lost between an event and its counter may leave a bucket below zero.
    days = {"2026-03-02": totals({"recovered": 100, "roll.1-30>31-60": 2},
                                 {"n.current": 10, "owed.current": 300, "n.1-30": -3, "owed.1-30": -900})}
    summary = rules.summarise(days, PRICES)
    assert summary["amount_due_start"] == "0.00" and summary["recovery_rate"] is None
    result = rules.roll_rates(days)
    assert result["accounts_at_start"] == [10, 0, 0, 0, 0, 0]
    assert result["rates"][AGING_BUCKETS.index("1-30")][AGING_BUCKETS.index("31-60")] is None


def test_without_a_level_roll_rates_have_moves_but_no_rates():
    result = rules.roll_rates({"2026-03-02": totals({"roll.current>1-30": 30})})
    assert result["moved"][0][1] == 30
    assert result["accounts_at_start"] == [0] * len(AGING_BUCKETS)
    assert all(rate is None for row in result["rates"] for rate in row)


def test_roll_rates_of_a_segment_divide_by_that_segment_s_accounts():
    items = [item("2026-03-02", "late", {rules.roll_counter("31-60", "61-90"): 5}),
             item("2026-03-02", "early", {rules.roll_counter("31-60", "61-90"): 100}),
             level("2026-03-02", {"n.late.31-60": 20, "n.early.31-60": 1000})]
    result = rules.roll_rates(rules.add_up(items, FIRST, LAST, "late"))
    i, j = AGING_BUCKETS.index("31-60"), AGING_BUCKETS.index("61-90")
    assert (result["moved"][i][j], result["accounts_at_start"][i], result["rates"][i][j]) == (5, 20, 0.25)


# ---------------------------------------------------------------- best hours
def counted(events):
    """The counters items the calls ``(utc instant, right party)`` leave, as the store reads them."""
    items = []
    for moment, right_party in events:
        slot = rules.hour_slot(moment, CDMX)
        items.append(item("2026-03-02", "general", rules.contact_counters("call", slot, right_party)))
    return rules.add_up(items, date(2026, 1, 1), date(2026, 12, 31), None)


def test_best_hours_is_a_monday_first_7_by_24_matrix_per_channel_in_the_debtor_s_zone():
    days = counted([
        (datetime(2026, 3, 2, 15, 30, tzinfo=UTC), True),  # Monday 09:30 in Mexico City
        (datetime(2026, 7, 6, 15, 10, tzinfo=UTC), False),  # Monday 09:10 in July: no daylight saving
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), True),  # Monday in UTC, Sunday 20:00 for the debtor
    ])
    result = rules.best_hours(days)
    assert result["weekdays"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert result["hours"] == list(range(24))
    call = result["channels"]["call"]
    for matrix in (call["attempts"], call["right_party"], call["rate"]):
        assert len(matrix) == 7 and all(len(row) == 24 for row in matrix)
    assert call["attempts"][0][9] == 2 and call["right_party"][0][9] == 1 and call["rate"][0][9] == 0.5
    assert call["attempts"][6][20] == 1 and call["rate"][6][20] == 1.0
    assert call["attempts"][0][2] == 0 and call["rate"][0][2] is None  # not the UTC slot
    assert sum(map(sum, call["attempts"])) == 3


def test_an_hour_without_attempts_has_no_rate_and_a_channel_never_reached_has_zeros():
    days = {"2026-03-02": totals({"hour.sms.1_10.a": 4, "hour.call.1_10.a": 2, "hour.call.1_10.r": 1})}
    channels = rules.best_hours(days)["channels"]
    assert list(channels) == ["call", "sms"]
    sms = channels["sms"]
    assert sms["right_party"] == [[0] * 24 for _ in range(7)]
    assert sms["rate"][1][10] == 0.0
    assert sum(rate is None for row in sms["rate"] for rate in row) == 7 * 24 - 1


def test_best_hours_add_up_over_the_days():
    days = {"2026-03-02": totals({"hour.call.0_18.a": 3, "hour.call.0_18.r": 1}),
            "2026-03-09": totals({"hour.call.0_18.a": 1, "hour.call.0_18.r": 1})}
    call = rules.best_hours(days)["channels"]["call"]
    assert (call["attempts"][0][18], call["right_party"][0][18], call["rate"][0][18]) == (4, 2, 0.5)


def test_no_hour_counters_means_no_channels():
    assert rules.best_hours({})["channels"] == {}
