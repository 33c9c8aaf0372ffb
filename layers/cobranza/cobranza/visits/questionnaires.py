"""Visit questionnaires (SPEC §6): their definition, the default one, and answer validation.

A questionnaire is defined in the policy (``questionnaires``, one per id)::

    {"title": "...", "questions": [
        {"id": "holder_lives_here", "type": "yes_no", "label": "...", "required": true},
        {"id": "relationship", "type": "text", "label": "...",
         "show_if": {"question": "who_answered", "equals": "familiar"}}, ...]}

Question types: ``text`` (``max_length``, default 500), ``number`` (``min``/``max``), ``yes_no``,
``single_choice`` and ``multi_choice`` (``choices``), ``date`` (``YYYY-MM-DD``) and ``photo``
(the key of an uploaded photo, or a list of keys). ``show_if`` makes a question depend on the
answer to an *earlier* one (``equals`` a value or ``in`` a list of values): a hidden question must
not be answered, and is never required.

Pure functions: no AWS, no clock.
"""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from typing import Any, Callable, Collection, Mapping

QUESTION_TYPES = ("text", "number", "yes_no", "single_choice", "multi_choice", "date", "photo")
CHOICE_TYPES = frozenset({"single_choice", "multi_choice"})
DEFAULT_TEXT_MAX_LENGTH = 500
QUESTION_ID_PATTERN = "^[a-z][a-z0-9_]*$"
_QUESTION_ID = re.compile(QUESTION_ID_PATTERN)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_QUESTION_KEYS = frozenset({"id", "type", "label", "required", "choices", "show_if", "min", "max", "max_length"})

DEFAULT_QUESTIONNAIRE_ID = "address_verification"

#: The domain's address-verification visit, for Mexican field agents (labels in Spanish).
DEFAULT_QUESTIONNAIRES: dict[str, dict[str, Any]] = {
    DEFAULT_QUESTIONNAIRE_ID: {
        "title": "Verificación de domicilio",
        "questions": [
            {"id": "holder_lives_here", "type": "yes_no", "required": True,
             "label": "¿El titular vive en este domicilio?"},
            {"id": "who_answered", "type": "single_choice", "required": True,
             "label": "¿Quién atendió la visita?",
             "choices": ["titular", "familiar", "vecino", "nadie", "otro"]},
            {"id": "relationship", "type": "text", "label": "¿Qué parentesco tiene con el titular?",
             "show_if": {"question": "who_answered", "equals": "familiar"}},
            {"id": "best_contact_time", "type": "single_choice", "label": "¿Cuál es el mejor horario para contactarlo?",
             "choices": ["mañana", "tarde", "noche", "fin_de_semana"]},
            {"id": "works_at", "type": "text", "label": "¿Dónde trabaja el titular?"},
            {"id": "other_phone", "type": "text", "label": "Otro teléfono de contacto", "max_length": 20},
            {"id": "property_condition", "type": "single_choice", "required": True,
             "label": "¿En qué estado se encuentra el inmueble?",
             "choices": ["buena", "regular", "mala", "deshabitada"]},
            {"id": "property_type", "type": "single_choice", "label": "Tipo de inmueble",
             "choices": ["casa", "departamento", "local", "terreno", "otro"]},
            {"id": "zone_risk", "type": "single_choice", "required": True, "label": "Riesgo de la zona",
             "choices": ["bajo", "medio", "alto"]},
            {"id": "seemed_truthful", "type": "yes_no", "label": "¿La información parece verídica?",
             "show_if": {"question": "who_answered", "in": ["titular", "familiar", "vecino"]}},
            {"id": "facade_photo", "type": "photo", "label": "Foto de la fachada"},
            {"id": "comments", "type": "text", "label": "Comentarios", "max_length": 1000},
        ],
    },
}

#: JSON schema of one questionnaire (the policy's ``questionnaires`` values). The rules the schema
#: cannot say (unique ids, show_if order, choices per type) are in ``questionnaire_problems``.
#: The largest number a `number` question (and its min/max) may hold: beyond it a value is not an answer.
ANSWER_NUMBER_LIMIT = 10**12
#: A value a `show_if` compares an answer with.
_SCALAR: dict[str, Any] = {"anyOf": [
    {"type": "string", "maxLength": 100},
    {"type": "number", "minimum": -ANSWER_NUMBER_LIMIT, "maximum": ANSWER_NUMBER_LIMIT},
    {"type": "boolean"},
]}

QUESTIONNAIRE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "questions"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "questions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "type", "label"],
                "properties": {
                    "id": {"type": "string", "pattern": QUESTION_ID_PATTERN, "maxLength": 64},
                    "type": {"type": "string", "enum": list(QUESTION_TYPES)},
                    "label": {"type": "string", "minLength": 1, "maxLength": 500},
                    "required": {"type": "boolean"},
                    "choices": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 100,
                        "uniqueItems": True,
                        "items": {"type": "string", "minLength": 1, "maxLength": 100},
                    },
                    "show_if": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["question"],
                        "properties": {
                            "question": {"type": "string", "pattern": QUESTION_ID_PATTERN, "maxLength": 64},
                            "equals": _SCALAR,
                            "in": {"type": "array", "minItems": 1, "maxItems": 100, "items": _SCALAR},
                        },
                    },
                    "min": {"type": "number", "minimum": -ANSWER_NUMBER_LIMIT, "maximum": ANSWER_NUMBER_LIMIT},
                    "max": {"type": "number", "minimum": -ANSWER_NUMBER_LIMIT, "maximum": ANSWER_NUMBER_LIMIT},
                    "max_length": {"type": "integer", "minimum": 1, "maximum": 5000},
                },
            },
        },
    },
}


def _problem(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


# ---------------------------------------------------------------- definitions
def _show_if_values(field: str, show_if: Mapping[str, Any]) -> tuple[list[Any] | None, list[dict[str, str]]]:
    """The values ``show_if`` compares with (``in``, or the one ``equals``), or its one problem."""
    if ("equals" in show_if) == ("in" in show_if):
        return None, [_problem(field, "show_if needs exactly one of 'equals' or 'in'")]
    if "in" not in show_if:
        return [show_if["equals"]], []
    values = show_if["in"]
    if not isinstance(values, list) or not values:
        return None, [_problem(f"{field}.in", "'in' must be a non-empty list")]
    return values, []


def _possible_answers(question: Mapping[str, Any]) -> list[Any] | None:
    """Every answer ``question`` can have, or None when they are not a closed list."""
    if question.get("type") == "yes_no":
        return [True, False]
    if question.get("type") in CHOICE_TYPES:
        return list(question.get("choices") or [])
    return None


def _show_if_value_problem(field: str, parent_id: str, value: Any, possible: list[Any] | None) -> dict[str, str] | None:
    if not isinstance(value, (str, bool, int, float)):
        return _problem(field, f"{value!r} is not a string, number or boolean")
    if possible is not None and not any(value == p and type(value) is type(p) for p in possible):
        return _problem(field, f"{parent_id!r} can never be {value!r}")
    return None


def _show_if_problems(where: str, show_if: Any, earlier: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    field = f"{where}.show_if"
    if not isinstance(show_if, Mapping):
        return [_problem(field, "show_if must be an object")]
    parent_id = show_if.get("question")
    if not isinstance(parent_id, str) or parent_id not in earlier:
        return [_problem(field, f"show_if must name an earlier question, not {parent_id!r}")]
    values, problems = _show_if_values(field, show_if)
    if values is None:
        return problems
    possible = _possible_answers(earlier[parent_id])
    found = (_show_if_value_problem(field, parent_id, value, possible) for value in values)
    return [problem for problem in found if problem is not None]


def _general_problems(where: str, question: Mapping[str, Any]) -> list[dict[str, str]]:
    """Unknown keys, the type, the label and ``required``."""
    kind = question.get("type")
    problems = [_problem(f"{where}.{key}", f"unknown key {key!r}") for key in sorted(set(question) - _QUESTION_KEYS)]
    if kind not in QUESTION_TYPES:
        problems.append(_problem(f"{where}.type", f"unknown type {kind!r}; one of {', '.join(QUESTION_TYPES)}"))
    label = question.get("label")
    if not isinstance(label, str) or not label.strip():
        problems.append(_problem(f"{where}.label", "a question needs a label"))
    if "required" in question and not isinstance(question["required"], bool):
        problems.append(_problem(f"{where}.required", "required must be true or false"))
    return problems


def _choices_problems(where: str, question: Mapping[str, Any]) -> list[dict[str, str]]:
    kind, choices = question.get("type"), question.get("choices")
    if kind not in CHOICE_TYPES:
        if choices is None:
            return []
        return [_problem(f"{where}.choices", "only single_choice and multi_choice take choices")]
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        return [_problem(f"{where}.choices", f"a {kind} question needs a list of choices")]
    if len(set(choices)) != len(choices):
        return [_problem(f"{where}.choices", "choices must be distinct")]
    return []


def _bounds_problems(where: str, question: Mapping[str, Any]) -> list[dict[str, str]]:
    """``min``/``max`` (number questions) and ``max_length`` (text questions)."""
    kind = question.get("type")
    problems = [_problem(f"{where}.{key}", f"{key} is a number, for number questions only")
                for key in ("min", "max") if key in question and (kind != "number" or not _is_number(question[key]))]
    if (kind == "number" and _is_number(question.get("min")) and _is_number(question.get("max"))
            and question["min"] > question["max"]):
        problems.append(_problem(where, "min must not exceed max"))
    if "max_length" in question:
        size = question["max_length"]
        if kind != "text" or not isinstance(size, int) or isinstance(size, bool) or size < 1:
            problems.append(_problem(f"{where}.max_length", "max_length is a positive integer, for text questions only"))
    return problems


def _question_problems(where: str, question: Mapping[str, Any],
                       earlier: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    problems = _general_problems(where, question) + _choices_problems(where, question) + _bounds_problems(where, question)
    if "show_if" in question:
        problems += _show_if_problems(where, question["show_if"], earlier)
    return problems


def questionnaire_problems(questionnaire: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every error in a questionnaire's definition (fields relative to it, e.g.
    ``questions.3.show_if``); ``[]`` when it is fine."""
    if not isinstance(questionnaire, Mapping):
        return [_problem("", "a questionnaire must be an object")]
    problems = []
    title = questionnaire.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(_problem("title", "a questionnaire needs a title"))
    questions = questionnaire.get("questions")
    if not isinstance(questions, list) or not questions:
        return problems + [_problem("questions", "a questionnaire needs a non-empty list of questions")]
    earlier: dict[str, Mapping[str, Any]] = {}
    for index, question in enumerate(questions):
        where = f"questions.{index}"
        if not isinstance(question, Mapping):
            problems.append(_problem(where, "a question must be an object"))
            continue
        qid = question.get("id")
        if not isinstance(qid, str) or not _QUESTION_ID.match(qid):
            problems.append(_problem(f"{where}.id", f"question ids are snake_case, not {qid!r}"))
        elif qid in earlier:
            problems.append(_problem(f"{where}.id", f"duplicate question id {qid!r}"))
        problems += _question_problems(where, question, earlier)
        if isinstance(qid, str) and qid not in earlier:
            earlier[qid] = question
    return problems


# ---------------------------------------------------------------- answers
def _is_missing(value: Any) -> bool:
    """None, a blank string and an empty list are no answer."""
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def _condition(show_if: Mapping[str, Any]) -> str:
    if "in" in show_if:
        return f"{show_if['question']!r} is one of {show_if['in']!r}"
    return f"{show_if['question']!r} is {show_if.get('equals')!r}"


def _matches(value: Any, show_if: Mapping[str, Any]) -> bool:
    """The answer ``value`` satisfies ``show_if`` (equality, with bool and numbers kept apart)."""
    wanted = show_if["in"] if "in" in show_if else [show_if.get("equals")]
    return any(value == w and isinstance(value, bool) == isinstance(w, bool) for w in wanted)


def _text_problem(question: Mapping[str, Any], value: Any) -> str | None:
    limit = question.get("max_length", DEFAULT_TEXT_MAX_LENGTH)
    if not isinstance(value, str):
        return "must be text"
    if len(value) > limit:
        return f"must be at most {limit} characters (got {len(value)})"
    return None


def _number_problem(question: Mapping[str, Any], value: Any) -> str | None:
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        return "must be a number"
    if "min" in question and value < question["min"]:
        return f"must be at least {question['min']}"
    if "max" in question and value > question["max"]:
        return f"must be at most {question['max']}"
    return None


def _yes_no_problem(question: Mapping[str, Any], value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _single_choice_problem(question: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, str) or value not in question["choices"]:
        return f"must be one of: {', '.join(question['choices'])}"
    return None


def _multi_choice_problem(question: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in question["choices"] for v in value):
        return f"must be a list of choices from: {', '.join(question['choices'])}"
    if len(set(value)) != len(value):
        return "must not repeat a choice"
    return None


def _date_problem(question: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return "must be a date YYYY-MM-DD"
    try:
        date.fromisoformat(value)
    except ValueError:
        return f"{value} is not a calendar date"
    return None


def _photo_problem(value: Any, photo_keys: Collection[str]) -> str | None:
    keys = value if isinstance(value, list) else [value]
    if not all(isinstance(k, str) for k in keys):
        return "must be the key of an uploaded photo, or a list of keys"
    missing = [k for k in keys if k not in photo_keys]
    if missing:
        return f"no uploaded photo {', '.join(missing)}"
    return None


#: Why a value is not an answer to a question of each type (photos are checked apart: they need the uploads).
_ANSWER_CHECKS: dict[str, Callable[[Mapping[str, Any], Any], str | None]] = {
    "text": _text_problem,
    "number": _number_problem,
    "yes_no": _yes_no_problem,
    "single_choice": _single_choice_problem,
    "multi_choice": _multi_choice_problem,
    "date": _date_problem,
}


def _answer_problem(question: Mapping[str, Any], value: Any, photo_keys: Collection[str]) -> str | None:
    """Why ``value`` is not a valid answer to ``question``, or None."""
    kind = question["type"]
    if kind == "photo":
        return _photo_problem(value, photo_keys)
    check = _ANSWER_CHECKS.get(kind) if isinstance(kind, str) else None
    return check(question, value) if check else None


#: What a phone that captured a result against an older questionnaire may send (a question since
#: removed, or one now hidden by its condition): kept as captured and flagged, never refused.
UNKNOWN_QUESTION = "unknown question"
NOT_ASKED = "must not be answered"


def split_outdated(problems: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``validate_answers``' problems as (those that refuse the answers, the answers that only
    differ from the questionnaire as it is now: ``{"field", "reason"}``, reason ``unknown_question``
    or ``not_asked``)."""
    refusing, outdated = [], []
    for problem in problems:
        if problem["message"] == UNKNOWN_QUESTION:
            outdated.append({"field": problem["field"], "reason": "unknown_question"})
        elif problem["message"].startswith(NOT_ASKED):
            outdated.append({"field": problem["field"], "reason": "not_asked"})
        else:
            refusing.append(problem)
    return refusing, outdated


def validate_answers(questionnaire: Mapping[str, Any], answers: Mapping[str, Any] | None,
                     photo_keys: Collection[str]) -> list[dict[str, str]]:
    """Every problem with ``answers`` to a valid ``questionnaire``; ``[]`` when they are valid.
    Each problem is ``{"field": "answers.<id>", "message": ...}``. ``photo_keys`` are the photos
    uploaded for the visit."""
    if answers is None:
        answers = {}
    if not isinstance(answers, Mapping):
        return [_problem("answers", "answers must be an object of question id to answer")]
    questions = questionnaire["questions"]
    known = {q["id"] for q in questions}
    problems = [_problem(f"answers.{key}", UNKNOWN_QUESTION)
                for key in answers if key not in known]
    shown: dict[str, bool] = {}
    for question in questions:
        qid = question["id"]
        show_if = question.get("show_if")
        visible = show_if is None or (shown.get(show_if["question"], False)
                                      and _matches(answers.get(show_if["question"]), show_if))
        shown[qid] = visible
        value = answers.get(qid)
        field = f"answers.{qid}"
        if _is_missing(value):
            if visible and question.get("required", False):
                problems.append(_problem(field, "an answer is required"))
        elif not visible:
            problems.append(_problem(field, f"{NOT_ASKED}: asked only when {_condition(show_if)}"))
        else:
            message = _answer_problem(question, value, photo_keys)
            if message:
                problems.append(_problem(field, message))
    return problems
