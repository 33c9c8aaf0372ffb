"""SPEC §6 questionnaires (visits.questionnaires): definitions, the default one, answer validation."""
from __future__ import annotations

import copy

import pytest

from cobranza.tenants.policy import DEFAULT_POLICY, PolicyError, validate_policy
from cobranza.visits.questionnaires import (
    DEFAULT_QUESTIONNAIRE_ID,
    DEFAULT_QUESTIONNAIRES,
    QUESTION_TYPES,
    questionnaire_problems,
    validate_answers,
)

DEFAULT = DEFAULT_QUESTIONNAIRES[DEFAULT_QUESTIONNAIRE_ID]

#: One question of every type.
EVERY_TYPE = {
    "title": "Todo",
    "questions": [
        {"id": "note", "type": "text", "label": "Nota", "max_length": 10},
        {"id": "people", "type": "number", "label": "Personas", "min": 0, "max": 20},
        {"id": "home", "type": "yes_no", "label": "¿Vive aquí?"},
        {"id": "mood", "type": "single_choice", "label": "Actitud", "choices": ["buena", "mala"]},
        {"id": "assets", "type": "multi_choice", "label": "Bienes", "choices": ["auto", "moto", "casa"]},
        {"id": "pay_on", "type": "date", "label": "Fecha de pago"},
        {"id": "proof", "type": "photo", "label": "Comprobante"},
    ],
}
PHOTOS = {"visits/demo/V-1/a.jpg", "visits/demo/V-1/b.png"}

#: A valid answer to the default questionnaire (a relative answered).
GOOD = {
    "holder_lives_here": True,
    "who_answered": "familiar",
    "relationship": "hermana",
    "best_contact_time": "tarde",
    "property_condition": "regular",
    "zone_risk": "medio",
    "seemed_truthful": True,
    "facade_photo": "visits/demo/V-1/a.jpg",
    "comments": "Casa de dos pisos, portón negro.",
}


def fields(problems):
    return [p["field"] for p in problems]


# ---------------------------------------------------------------- definitions
def test_the_default_questionnaire_is_well_defined():
    assert set(DEFAULT_QUESTIONNAIRES) == {"address_verification"}
    assert questionnaire_problems(DEFAULT) == []
    assert questionnaire_problems(EVERY_TYPE) == []
    assert {q["type"] for q in EVERY_TYPE["questions"]} == set(QUESTION_TYPES)


def test_the_default_questionnaire_asks_the_address_verification_questions():
    questions = {q["id"]: q for q in DEFAULT["questions"]}
    assert list(questions) == ["holder_lives_here", "who_answered", "relationship", "best_contact_time", "works_at",
                               "other_phone", "property_condition", "property_type", "zone_risk", "seemed_truthful",
                               "facade_photo", "comments"]
    assert {qid for qid, q in questions.items() if q.get("required")} == {
        "holder_lives_here", "who_answered", "property_condition", "zone_risk"}
    assert questions["holder_lives_here"]["label"] == "¿El titular vive en este domicilio?"
    assert questions["who_answered"]["choices"] == ["titular", "familiar", "vecino", "nadie", "otro"]
    assert questions["relationship"]["show_if"] == {"question": "who_answered", "equals": "familiar"}
    assert questions["other_phone"]["max_length"] == 20


def test_the_default_policy_carries_the_default_questionnaire():
    assert DEFAULT_POLICY["questionnaires"] == DEFAULT_QUESTIONNAIRES
    assert DEFAULT_POLICY["visits"]["questionnaire"] == DEFAULT_QUESTIONNAIRE_ID


def _broken(**changes_by_index) -> dict:
    broken = copy.deepcopy(EVERY_TYPE)
    for index, change in changes_by_index.items():
        broken["questions"][int(index[1:])].update(change)
    return broken


@pytest.mark.parametrize("change, field, words", [
    ({"q1": {"id": "note"}}, "questions.1.id", "duplicate"),
    ({"q1": {"id": "Personas"}}, "questions.1.id", "snake_case"),
    ({"q2": {"type": "slider"}}, "questions.2.type", "unknown type"),
    ({"q3": {"choices": []}}, "questions.3.choices", "needs a list of choices"),
    ({"q3": {"choices": ["a", "a"]}}, "questions.3.choices", "distinct"),
    ({"q0": {"choices": ["a"]}}, "questions.0.choices", "only single_choice"),
    ({"q1": {"min": 5, "max": 1}}, "questions.1", "min must not exceed max"),
    ({"q0": {"show_if": {"question": "mood", "equals": "buena"}}}, "questions.0.show_if", "earlier question"),
    ({"q4": {"show_if": {"question": "nope", "equals": "x"}}}, "questions.4.show_if", "earlier question"),
    ({"q4": {"show_if": {"question": "mood", "equals": "regular"}}}, "questions.4.show_if", "can never be"),
    ({"q4": {"show_if": {"question": "home", "in": ["si"]}}}, "questions.4.show_if", "can never be"),
    ({"q4": {"show_if": {"question": "mood"}}}, "questions.4.show_if", "exactly one"),
    ({"q4": {"label": " "}}, "questions.4.label", "label"),
    ({"q4": {"hint": "x"}}, "questions.4.hint", "unknown key"),
])
def test_broken_definitions_are_detected(change, field, words):
    problems = questionnaire_problems(_broken(**change))
    assert len(problems) == 1, problems
    assert problems[0]["field"] == field and words in problems[0]["message"]


def test_every_definition_problem_is_listed():
    broken = _broken(q1={"id": "note"}, q3={"choices": []})
    broken["title"] = ""
    assert fields(questionnaire_problems(broken)) == ["title", "questions.1.id", "questions.3.choices"]
    assert fields(questionnaire_problems({"title": "x", "questions": []})) == ["questions"]


def test_the_policy_refuses_broken_questionnaires_and_an_unknown_choice():
    # Given a policy whose own questionnaire is broken and which picks a questionnaire that does not exist
    policy = {"questionnaires": {"short": _broken(q1={"id": "note"})}, "visits": {"questionnaire": "long"}}
    # Then every problem is listed, with the questionnaire's id in the field
    with pytest.raises(PolicyError) as refused:
        validate_policy(policy)
    assert fields(refused.value.details) == ["questionnaires.short.questions.1.id", "visits.questionnaire"]


def test_the_policy_accepts_its_own_questionnaire():
    validate_policy({"questionnaires": {"short": EVERY_TYPE}, "visits": {"questionnaire": "short"}})
    with pytest.raises(PolicyError):  # the default visits section still names address_verification
        validate_policy({"questionnaires": {"short": EVERY_TYPE}})


def test_the_policy_schema_checks_the_questionnaire_shape():
    with pytest.raises(PolicyError):
        validate_policy({"questionnaires": {"x": {"title": "x", "questions": [{"id": "a", "type": "text"}]}}})


# ---------------------------------------------------------------- answers to the default questionnaire
def test_a_complete_answer_is_valid():
    assert validate_answers(DEFAULT, GOOD, PHOTOS) == []


def test_only_the_required_questions_must_be_answered():
    minimal = {"holder_lives_here": False, "who_answered": "nadie", "property_condition": "deshabitada",
               "zone_risk": "alto"}
    assert validate_answers(DEFAULT, minimal, set()) == []


@pytest.mark.parametrize("answers", [None, {}])
def test_no_answers_lists_every_required_question(answers):
    problems = validate_answers(DEFAULT, answers, PHOTOS)
    assert fields(problems) == ["answers.holder_lives_here", "answers.who_answered", "answers.property_condition",
                                "answers.zone_risk"]
    assert all(p["message"] == "an answer is required" for p in problems)


def test_a_none_or_blank_answer_is_missing():
    answers = {**GOOD, "holder_lives_here": None, "who_answered": "  "}
    assert fields(validate_answers(DEFAULT, answers, PHOTOS)) == [
        "answers.holder_lives_here", "answers.who_answered",
        # with who_answered missing, the follow-up questions are hidden
        "answers.relationship", "answers.seemed_truthful"]


def test_an_unknown_question_is_reported():
    problems = validate_answers(DEFAULT, {**GOOD, "favourite_colour": "azul"}, PHOTOS)
    assert problems == [{"field": "answers.favourite_colour", "message": "unknown question"}]


# ---------------------------------------------------------------- show_if, both ways
def test_a_question_shown_by_equals_may_be_answered_and_is_hidden_otherwise():
    # Given a neighbour answered, "relationship" (shown only to a relative) is hidden
    answers = {**GOOD, "who_answered": "vecino"}
    problems = validate_answers(DEFAULT, answers, PHOTOS)
    assert fields(problems) == ["answers.relationship"]
    assert "who_answered" in problems[0]["message"] and "familiar" in problems[0]["message"]
    # And without the hidden answer all is fine
    del answers["relationship"]
    assert validate_answers(DEFAULT, answers, PHOTOS) == []


def test_a_question_shown_by_in_is_hidden_outside_its_values():
    answers = {**GOOD, "who_answered": "nadie"}
    del answers["relationship"]
    assert fields(validate_answers(DEFAULT, answers, PHOTOS)) == ["answers.seemed_truthful"]
    del answers["seemed_truthful"]
    assert validate_answers(DEFAULT, answers, PHOTOS) == []


def test_a_required_question_is_required_only_when_shown():
    questionnaire = {"title": "t", "questions": [
        {"id": "home", "type": "yes_no", "label": "¿Vive aquí?", "required": True},
        {"id": "since", "type": "date", "label": "¿Desde cuándo?", "required": True,
         "show_if": {"question": "home", "equals": True}},
        {"id": "moved_to", "type": "text", "label": "¿A dónde se mudó?", "show_if": {"question": "since", "in": ["x"]}},
    ]}
    assert fields(validate_answers(questionnaire, {"home": True}, ())) == ["answers.since"]
    assert validate_answers(questionnaire, {"home": False}, ()) == []
    # A question that depends on a hidden one is hidden too
    assert fields(validate_answers(questionnaire, {"home": False, "moved_to": "x"}, ())) == ["answers.moved_to"]


# ---------------------------------------------------------------- each type
@pytest.mark.parametrize("qid, value", [
    ("note", "corto"), ("note", "x" * 10),
    ("people", 0), ("people", 20), ("people", 2.5),
    ("home", True), ("home", False),
    ("mood", "buena"),
    ("assets", ["auto"]), ("assets", ["casa", "moto"]),
    ("pay_on", "2026-12-01"), ("pay_on", "2028-02-29"),
    ("proof", "visits/demo/V-1/a.jpg"), ("proof", ["visits/demo/V-1/a.jpg", "visits/demo/V-1/b.png"]),
])
def test_valid_answers_of_each_type(qid, value):
    assert validate_answers(EVERY_TYPE, {qid: value}, PHOTOS) == []


@pytest.mark.parametrize("qid, value, words", [
    ("note", 5, "must be text"),
    ("note", "x" * 11, "at most 10 characters"),
    ("people", "3", "must be a number"),
    ("people", True, "must be a number"),
    ("people", float("nan"), "must be a number"),
    ("people", -1, "at least 0"),
    ("people", 21, "at most 20"),
    ("home", "si", "true or false"),
    ("home", 1, "true or false"),
    ("mood", "regular", "one of: buena, mala"),
    ("mood", ["buena"], "one of"),
    ("assets", "auto", "list of choices"),
    ("assets", ["auto", "avion"], "list of choices"),
    ("assets", ["auto", "auto"], "repeat"),
    ("pay_on", "01/12/2026", "YYYY-MM-DD"),
    ("pay_on", "2026-02-30", "not a calendar date"),
    ("pay_on", "2026-12-01T10:00:00", "YYYY-MM-DD"),
    ("proof", "visits/demo/V-1/missing.jpg", "no uploaded photo visits/demo/V-1/missing.jpg"),
    ("proof", ["visits/demo/V-1/a.jpg", "visits/demo/V-9/z.jpg"], "no uploaded photo visits/demo/V-9/z.jpg"),
    ("proof", {"key": "visits/demo/V-1/a.jpg"}, "key of an uploaded photo"),
])
def test_wrong_answers_of_each_type(qid, value, words):
    problems = validate_answers(EVERY_TYPE, {qid: value}, PHOTOS)
    assert len(problems) == 1, problems
    assert problems[0]["field"] == f"answers.{qid}" and words in problems[0]["message"]


def test_text_is_limited_to_500_characters_by_default():
    questionnaire = {"title": "t", "questions": [{"id": "note", "type": "text", "label": "Nota"}]}
    assert validate_answers(questionnaire, {"note": "x" * 500}, ()) == []
    assert fields(validate_answers(questionnaire, {"note": "x" * 501}, ())) == ["answers.note"]


def test_every_problem_is_listed_together():
    answers = {"note": 1, "people": 99, "mood": "regular", "pay_on": "mañana", "extra": True}
    problems = validate_answers(EVERY_TYPE, answers, PHOTOS)
    assert fields(problems) == ["answers.extra", "answers.note", "answers.people", "answers.mood", "answers.pay_on"]
    assert all(isinstance(p["message"], str) and p["message"] for p in problems)


def test_answers_that_are_not_an_object_are_refused():
    assert fields(validate_answers(EVERY_TYPE, ["si"], PHOTOS)) == ["answers"]
