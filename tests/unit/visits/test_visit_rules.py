"""SPEC §6 visit rules (visits.rules): next step per outcome, zones, assignment, routes."""
from __future__ import annotations

from datetime import date

import pytest

from cobranza.tenants.policy import DEFAULT_POLICY, PolicyError, effective_policy, validate_policy
from cobranza.visits.rules import (
    DEFAULT_OUTCOME_RULES,
    OUTCOMES,
    AgentSlot,
    NextStep,
    covers,
    nearest_neighbour_route,
    next_step,
    rank_agents,
    zone_keys,
)

RULES = DEFAULT_POLICY["outcome_rules"]
VISITED = date(2026, 11, 23)


# ---------------------------------------------------------------- next step per outcome
@pytest.mark.parametrize("outcome, expected", [
    ("promise_to_pay", NextStep("promised", True, None, None)),
    ("paid_reported", NextStep("payment_reported", False, None, None)),
    ("partial_payment_reported", NextStep(None, False, None, None)),
    ("not_home", NextStep(None, False, date(2026, 11, 26), None)),
    ("relative_contacted", NextStep(None, False, date(2026, 11, 30), None)),
    ("refused", NextStep(None, False, None, None)),
    ("wrong_address", NextStep(None, False, None, "skip_trace")),
    ("moved", NextStep(None, False, None, "skip_trace")),
    ("abandoned_property", NextStep(None, False, None, "skip_trace")),
    ("dispute", NextStep("disputed", False, None, None)),
])
def test_each_outcome_has_its_default_next_step(outcome, expected):
    assert next_step(outcome, RULES, 1, VISITED) == expected


def test_every_outcome_has_a_default_rule():
    """One table for visits and every other channel (SPEC §6b)."""
    from cobranza.visits.rules import CONTACT_RESULTS

    assert set(DEFAULT_OUTCOME_RULES) == set(OUTCOMES) | set(CONTACT_RESULTS) == set(RULES)


@pytest.mark.parametrize("attempt, revisit_on, alarm", [
    (1, date(2026, 11, 26), None),
    (2, date(2026, 11, 26), None),
    (3, None, "visits_exhausted"),
    (4, None, "visits_exhausted"),
])
def test_not_home_is_revisited_after_3_days_at_most_3_times(attempt, revisit_on, alarm):
    step = next_step("not_home", RULES, attempt, VISITED)
    assert (step.revisit_on, step.alarm, step.account_status) == (revisit_on, alarm, None)


def test_relative_contacted_is_revisited_once():
    assert next_step("relative_contacted", RULES, 1, VISITED).revisit_on == date(2026, 11, 30)
    assert next_step("relative_contacted", RULES, 2, VISITED) == NextStep(None, False, None, "visits_exhausted")


def test_a_tenant_rule_replaces_the_default_and_missing_outcomes_keep_theirs():
    # Given a tenant whose outcome_rules name only not_home (the section replaces the default's)
    rules = effective_policy({"outcome_rules": {"not_home": {"revisit_after_days": 1, "max_attempts": 5,
                                                             "alarm": "agent_review"}}})["outcome_rules"]
    # Then not_home follows the tenant's rule, its own alarm included on the last attempt
    assert next_step("not_home", rules, 4, VISITED) == NextStep(None, False, date(2026, 11, 24), "agent_review")
    assert next_step("not_home", rules, 5, VISITED) == NextStep(None, False, None, "agent_review")
    # And an outcome it does not name keeps the default rule
    assert next_step("dispute", rules, 1, VISITED).account_status == "disputed"
    assert next_step("promise_to_pay", {}, 1, VISITED).store_promise is True


def test_a_tenant_rule_may_silence_an_outcome():
    assert next_step("wrong_address", {"wrong_address": {}}, 1, VISITED) == NextStep(None, False, None, None)


def test_an_unknown_outcome_or_attempt_is_an_error():
    with pytest.raises(ValueError):
        next_step("abducted_by_aliens", RULES, 1, VISITED)
    with pytest.raises(ValueError):
        next_step("not_home", RULES, 0, VISITED)


def test_the_next_step_is_json_ready():
    assert next_step("not_home", RULES, 1, VISITED).as_dict() == {
        "account_status": None, "store_promise": False, "revisit_on": "2026-11-26", "alarm": None}


@pytest.mark.parametrize("section", [
    {"not_a_outcome": {}},
    {"not_home": {"status": "on_holiday"}},
    {"not_home": {"revisit_after_days": 0}},
    {"not_home": {"revisit_after_days": 61}},
    {"not_home": {"max_attempts": 11}},
    {"not_home": {"colour": "red"}},
])
def test_the_policy_refuses_bad_outcome_rules(section):
    with pytest.raises(PolicyError):
        validate_policy({"outcome_rules": section})


@pytest.mark.parametrize("section, ok", [
    ({"capacity_per_day": 1, "sla_days": 30, "photo_max_mb": 1}, True),
    ({"capacity_per_day": 101}, False),
    ({"sla_days": 0}, False),
    ({"photo_max_mb": 11}, False),
    ({"photos": 3}, False),
])
def test_the_policy_validates_the_visits_section(section, ok):
    if ok:
        validate_policy({"visits": section})
    else:
        with pytest.raises(PolicyError):
            validate_policy({"visits": section})


def test_the_default_policy_validates():
    validate_policy(DEFAULT_POLICY)
    assert DEFAULT_POLICY["visits"] == {"capacity_per_day": 12, "questionnaire": "address_verification",
                                        "sla_days": 3, "photo_max_mb": 10}


# ---------------------------------------------------------------- zones
CENTRO = zone_keys("Ciudad de México", "Cuauhtémoc", "06700")
GDL = zone_keys("Jalisco", "Guadalajara", "44100")


@pytest.mark.parametrize("zone", ["CDMX", "cdmx", "Ciudad de México", "CIUDAD DE MEXICO", "Distrito Federal", "DF",
                                  " df ", "cuauhtemoc", "06700", "06*", "067*", "0*"])
def test_an_agent_covers_an_account_in_its_zone(zone):
    assert covers([zone], CENTRO, "06700")


@pytest.mark.parametrize("zone", ["Jalisco", "Guadalajara", "06701", "07*", "44*", "Estado de México"])
def test_an_agent_does_not_cover_other_zones(zone):
    assert not covers([zone], CENTRO, "06700")


def test_a_state_written_as_its_alias_in_the_file_still_matches():
    keys = zone_keys("DF", "Ciudad de México", None)
    assert covers(["Ciudad de México"], keys, None)
    assert covers(["CDMX"], zone_keys(None, "CDMX", None), None)


def test_an_agent_with_no_zones_covers_everything_and_any_zone_of_its_list_is_enough():
    assert covers([], GDL, "44100")
    assert covers(["CDMX", "Guadalajara"], GDL, "44100")
    assert not covers(["CDMX", "Monterrey"], GDL, "44100")


def test_zone_keys_are_normalised():
    assert zone_keys(" Nuevo León ", "San Pedro Garza García", " 66220 ") == {"nuevo_leon", "san_pedro_garza_garcia",
                                                                              "66220"}
    assert zone_keys(None, None, None) == set()


# ---------------------------------------------------------------- assignment
TARGET = (19.4326, -99.1332)  # Zócalo


def agent(agent_id, home=None, load=0, capacity=12, zones=(), active=True):
    return AgentSlot(agent_id, tuple(zones), home, capacity, load, active)


def test_agents_are_ranked_by_distance_from_home():
    near = agent("near", home=(19.4400, -99.1400))
    far = agent("far", home=(19.3000, -99.2000))
    homeless = agent("homeless")
    assert rank_agents([homeless, far, near], TARGET, CENTRO, "06700") == ["near", "far", "homeless"]


def test_only_active_covering_agents_with_capacity_left_are_ranked():
    agents = [
        agent("full", home=TARGET, load=12),
        agent("inactive", home=TARGET, active=False),
        agent("elsewhere", home=TARGET, zones=["Jalisco"]),
        agent("ok", home=(19.5, -99.2), load=11, zones=["06*"]),
    ]
    assert rank_agents(agents, TARGET, CENTRO, "06700") == ["ok"]
    assert rank_agents(agents[:3], TARGET, CENTRO, "06700") == []


def test_ties_and_a_visit_without_coordinates_go_to_the_least_loaded_then_by_id():
    same_home = (19.44, -99.14)
    agents = [agent("b", home=same_home, load=3), agent("c", home=same_home, load=1), agent("a", home=same_home, load=3)]
    assert rank_agents(agents, TARGET, CENTRO, "06700") == ["c", "a", "b"]
    mixed = [agent("b", home=same_home, load=2), agent("x", load=0), agent("a", load=2)]
    assert rank_agents(mixed, None, CENTRO, "06700") == ["x", "a", "b"]


# ---------------------------------------------------------------- routes
def test_the_route_goes_always_to_the_nearest_next_stop():
    # Given stops along a line north of the start, listed out of order
    stops = [("far", 19.50, -99.13), ("near", 19.44, -99.13), ("mid", 19.47, -99.13)]
    assert nearest_neighbour_route(TARGET, stops) == ["near", "mid", "far"]


def test_without_start_the_route_begins_at_the_first_located_stop():
    stops = [("nowhere", None, None), ("mid", 19.47, -99.13), ("far", 19.50, -99.13), ("near", 19.44, -99.13)]
    assert nearest_neighbour_route(None, stops) == ["mid", "far", "near", "nowhere"]


def test_stops_without_coordinates_go_last_in_their_order_and_ties_go_by_id():
    stops = [("z-unknown", None, None), ("b", 19.44, -99.13), ("a", 19.44, -99.13), ("y-unknown", 19.4, None)]
    assert nearest_neighbour_route(TARGET, stops) == ["a", "b", "z-unknown", "y-unknown"]
    assert nearest_neighbour_route(None, []) == []


def test_a_settings_section_is_merged_key_by_key_and_a_collection_replaced_whole(monkeypatch):
    """A tenant who changed one contact rule keeps every other default, and a later change of a
    default reaches it; its cadences, once stated, are its own."""
    from cobranza.tenants import policy as policy_module

    stored = {"contact_rules": {"window_start": "08:00"}, "cadences": {"administrative": []},
              "outcome_rules": {"not_home": {"revisit_after_days": 1}}}
    effective = effective_policy(stored)
    assert effective["contact_rules"] == dict(DEFAULT_POLICY["contact_rules"], window_start="08:00")
    assert effective["cadences"] == {"administrative": []}
    assert effective["outcome_rules"]["not_home"] == {"revisit_after_days": 1}
    assert effective["outcome_rules"]["dispute"] == DEFAULT_POLICY["outcome_rules"]["dispute"]
    validate_policy(effective)
    changed = dict(DEFAULT_POLICY, contact_rules=dict(DEFAULT_POLICY["contact_rules"], max_per_day=2))
    monkeypatch.setattr(policy_module, "DEFAULT_POLICY", changed)
    assert effective_policy(stored)["contact_rules"]["max_per_day"] == 2
