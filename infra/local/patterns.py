"""EventBridge event patterns (the `FilterCriteria` of Pipes and event source mappings).

    matches({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["done"]}}}}, record)

A pattern is a JSON object (or its JSON text) whose leaves are lists of matchers; an event
matches when every key of the pattern matches, a list when any of its matchers does. Matchers:
exact values (strings, numbers compared numerically, booleans, null), `prefix`, `suffix`,
`equals-ignore-case`, `anything-but` (a value, a list, or `{"prefix"|"suffix": ...}`), `exists`,
`numeric` (`[">", 0, "<=", 5]`), `wildcard` (`*` only), and `$or` (a list of patterns). A key
the event lacks fails every matcher but `{"exists": false}`; where the event holds an array, a
matcher matches when any element does. Anything else raises `PatternError`, so a template
typo shows at start-up instead of as a filter that silently never matches.

Pure and dependency-free: integration tests can use it to filter as the deployed pipe would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["PatternError", "filter_patterns", "matches", "matches_any", "parse_pattern"]


class PatternError(ValueError):
    """The pattern uses something EventBridge would reject or this module does not implement."""


def parse_pattern(pattern: Mapping[str, Any] | str) -> dict:
    """The pattern as a dict (from JSON text if needed), checked for unsupported operators."""
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except ValueError as exc:
            raise PatternError(f"pattern is not valid JSON: {exc}") from None
    if not isinstance(pattern, Mapping):
        raise PatternError("a pattern is a JSON object")
    _check_object(pattern)
    return dict(pattern)


def filter_patterns(filter_criteria: Mapping[str, Any] | None) -> list[dict]:
    """The patterns of a `FilterCriteria: {Filters: [{Pattern: "<json>"}]}` block, parsed."""
    filters = (filter_criteria or {}).get("Filters") or []
    return [parse_pattern(item["Pattern"]) for item in filters]


def matches(pattern: Mapping[str, Any] | str, event: Any) -> bool:
    """Whether `event` (a JSON-like dict) matches `pattern`."""
    return _match_object(parse_pattern(pattern) if isinstance(pattern, str) else pattern, event)


def matches_any(patterns: Iterable[Mapping[str, Any] | str], event: Any) -> bool:
    """A record passes a filter criteria when any pattern matches; no patterns let everything pass."""
    patterns = list(patterns)
    return not patterns or any(matches(pattern, event) for pattern in patterns)


# --------------------------------------------------------------------------- matching


def _match_object(pattern: Mapping[str, Any], event: Any) -> bool:
    for key, rule in pattern.items():
        if key == "$or":
            if not any(_match_object(option, event) for option in rule):
                return False
            continue
        present = isinstance(event, Mapping) and key in event
        value = event[key] if present else None
        if isinstance(rule, Mapping):
            candidates = value if isinstance(value, list) else [value]
            if not any(_match_object(rule, c if isinstance(c, Mapping) else {}) for c in candidates or [{}]):
                return False
        elif not _match_leaf(rule, present, value):
            return False
    return True


def _match_leaf(matchers: list, present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for matcher in matchers:
        if isinstance(matcher, Mapping):
            if _match_operator(matcher, present, values):
                return True
        elif present and any(_equal(matcher, v) for v in values):
            return True
    return False


def _match_operator(matcher: Mapping[str, Any], present: bool, values: list) -> bool:
    (name, argument), = matcher.items()
    if name == "exists":
        return present is bool(argument)
    if not present:
        return False
    if name == "anything-but":
        return any(not _excluded(argument, v) for v in values)
    if name == "numeric":
        return any(_is_number(v) and _numeric(argument, v) for v in values)
    return any(_string_test(name, argument, v) for v in values)


def _excluded(argument: Any, value: Any) -> bool:
    """Whether `anything-but: argument` rules `value` out."""
    if isinstance(argument, Mapping):
        (name, inner), = argument.items()
        options = inner if isinstance(inner, list) else [inner]
        return any(_string_test(name, option, value) for option in options)
    options = argument if isinstance(argument, list) else [argument]
    return any(_equal(option, value) for option in options)


def _string_test(name: str, argument: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, Mapping):  # {"prefix": {"equals-ignore-case": "x"}}
        (_, argument), = argument.items()
        value, argument = value.casefold(), str(argument).casefold()
    if name == "prefix":
        return value.startswith(argument)
    if name == "suffix":
        return value.endswith(argument)
    if name == "equals-ignore-case":
        return value.casefold() == str(argument).casefold()
    if name == "wildcard":
        return re.fullmatch(".*".join(re.escape(part) for part in str(argument).split("*")), value, re.S) is not None
    raise PatternError(f"unsupported matcher {name!r}")


_COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(conditions: list, value: float) -> bool:
    return all(_COMPARISONS[conditions[i]](value, conditions[i + 1]) for i in range(0, len(conditions), 2))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


# --------------------------------------------------------------------------- checking

_STRING_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "wildcard"}


def _check_object(pattern: Mapping[str, Any]) -> None:
    for key, rule in pattern.items():
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2 or not all(isinstance(p, Mapping) for p in rule):
                raise PatternError("$or takes a list of at least two patterns")
            for option in rule:
                _check_object(option)
        elif isinstance(rule, Mapping):
            _check_object(rule)
        elif isinstance(rule, list):
            for matcher in rule:
                if isinstance(matcher, Mapping):
                    _check_operator(key, matcher)
                elif isinstance(matcher, list):
                    raise PatternError(f"{key}: matchers cannot be nested lists")
        else:
            raise PatternError(f"{key}: a pattern's values are lists of matchers or objects, not {rule!r}")


def _check_operator(key: str, matcher: Mapping[str, Any]) -> None:
    if len(matcher) != 1:
        raise PatternError(f"{key}: one operator per matcher object, got {sorted(matcher)}")
    (name, argument), = matcher.items()
    if name in _OPERATOR_CHECKS:
        _OPERATOR_CHECKS[name](key, argument)
    elif name in _STRING_OPERATORS:
        _check_string_operator(key, name, argument)
    else:
        raise PatternError(f"{key}: unsupported matcher {name!r} (supported: exists, anything-but, numeric, "
                           f"{', '.join(sorted(_STRING_OPERATORS))})")


def _check_exists(key: str, argument: Any) -> None:
    if not isinstance(argument, bool):
        raise PatternError(f"{key}: exists takes true or false")


def _check_anything_but(key: str, argument: Any) -> None:
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in _STRING_OPERATORS:
            raise PatternError(f"{key}: anything-but takes a value, a list, or one of {sorted(_STRING_OPERATORS)}")


def _check_numeric(key: str, argument: Any) -> None:
    if (not isinstance(argument, list) or len(argument) not in (2, 4)
            or any(argument[i] not in _COMPARISONS or not _is_number(argument[i + 1])
                   for i in range(0, len(argument), 2))):
        raise PatternError(f"{key}: numeric takes [op, number] or [op, number, op, number]")


def _check_string_operator(key: str, name: str, argument: Any) -> None:
    if isinstance(argument, Mapping):
        if list(argument) != ["equals-ignore-case"] or name not in ("prefix", "suffix"):
            raise PatternError(f"{key}: {name} takes a string")
    elif not isinstance(argument, str):
        raise PatternError(f"{key}: {name} takes a string")


# The operators with their own argument shape; the string operators share _check_string_operator.
_OPERATOR_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "exists": _check_exists,
    "anything-but": _check_anything_but,
    "numeric": _check_numeric,
}
