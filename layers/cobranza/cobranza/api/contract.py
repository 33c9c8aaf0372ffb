"""The one place that checks HTTP requests (SPEC §7), against the API's OpenAPI document.

`openapi.yaml` next to this module is the document (`docs/openapi.yaml` links to it), so the
routes are checked by exactly what their users read. For one request, in this order:

1. path parameters (a malformed id is 404, a malformed link token 401: `x-invalid` on the parameter);
2. query parameters: unknown names, types, ranges, enums and formats are 400;
3. the body, only when the view asks for it (after authentication): over the operation's
   `x-max-bytes` (default 1 MB) is 413; not JSON, NaN/Infinity, a number beyond a float, or
   nesting deeper than 32 levels is 400; a body that breaks the schema is 422 (400 when it is
   not even the right JSON type), with the requestBody's `x-invalid-code`.

An error names the offending field and carries at most a short excerpt of the value, never the
value itself. Schemas are compiled (fastjsonschema) once per operation, when first used.
"""
from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

import fastjsonschema
import yaml

from ..core.errors import Invalid, TooLarge, Unprocessable
from .errors import error_for_status

DOCUMENT = Path(__file__).with_name("openapi.yaml")
FORM = "application/x-www-form-urlencoded"
MAX_BODY_BYTES = 1024 * 1024
MAX_FORM_FIELDS = 20
MAX_DEPTH = 32
EXCERPT_CHARS = 40
MAX_DETAILS = 20
MESSAGE_CHARS = 200
_OAS_ONLY = ("nullable", "example", "examples", "discriminator", "readOnly", "writeOnly", "deprecated",
             "externalDocs", "xml")
#: RFC 3339: an instant always carries its offset (a phone's clock zone is never guessed).
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _is_day(text: str) -> bool:
    try:
        return bool(_DAY.fullmatch(text)) and date.fromisoformat(text) is not None
    except ValueError:
        return False


def _is_instant(text: str) -> bool:
    try:
        return bool(_INSTANT.fullmatch(text)) and datetime.fromisoformat(text.upper().replace("Z", "+00:00")) is not None
    except ValueError:
        return False


FORMATS: dict[str, Callable[[str], bool]] = {"date": _is_day, "date-time": _is_instant}


@functools.cache
def document() -> dict[str, Any]:
    with DOCUMENT.open("rb") as handle:
        loaded: dict[str, Any] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec B506  # a safe loader, C or pure Python
    return loaded


def json_schema(schema: Any, seen: tuple[str, ...] = ()) -> Any:
    """An OpenAPI 3.0 schema object as plain JSON Schema (draft 4): references inlined,
    ``nullable`` as a null type, OpenAPI-only keywords dropped."""
    if isinstance(schema, list):
        return [json_schema(s, seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            raise ValueError(f"recursive schema {ref}")
        return json_schema(_resolve(ref), seen + (ref,))
    out = {k: json_schema(v, seen) if k not in ("properties", "enum", "required") else v
           for k, v in schema.items() if k not in _OAS_ONLY and not k.startswith("x-")}
    if "properties" in schema:
        out["properties"] = {name: json_schema(s, seen) for name, s in schema["properties"].items()}
    if schema.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _compile(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    return fastjsonschema.compile({"$schema": "http://json-schema.org/draft-04/schema#", **json_schema(schema)},
                                  formats=FORMATS, use_default=False)


@dataclass(frozen=True)
class _Parameter:
    name: str
    where: str  # path | query
    required: bool
    kind: str  # the schema's type, to read the text of a query value
    check: Callable[[Any], Any]
    invalid: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Operation:
    """One route of the document, compiled."""
    method: str
    path: str
    operation_id: str
    parameters: list[_Parameter]
    body_schema: Mapping[str, Any] | None
    body_required: bool
    max_bytes: int
    invalid_code: str
    form_schema: Mapping[str, Any] | None = None
    _check_body: Callable[[Any], Any] | None = None
    _check_form: Callable[[Any], Any] | None = None

    def check_form(self, value: Any) -> None:
        if self.form_schema is None:
            return
        if self._check_form is None:
            self._check_form = _compile(self.form_schema)
        self._check_form(value)

    def check_body(self, value: Any) -> None:
        """Raises the schema's error; for a body that may take several shapes (``oneOf``), the
        error of the shape it came closest to (the deepest field), which is the one to fix."""
        if self.body_schema is None:
            return
        if self._check_body is None:
            self._check_body = _compile(self.body_schema)
        try:
            self._check_body(value)
        except fastjsonschema.JsonSchemaValueException as exc:
            if exc.name != "data" or exc.rule != "oneOf" or not isinstance(value, dict):
                raise
            errors = []
            for index in range(len(self.body_schema["oneOf"])):
                try:
                    self._alternative(index)(value)
                except fastjsonschema.JsonSchemaValueException as alternative:
                    errors.append(alternative)
            raise max(errors, key=lambda e: len(_path(e)), default=exc) from None

    def _alternative(self, index: int) -> Callable[[Any], Any]:
        return _compiled_alternative(self.method, self.path, index)


@functools.cache
def operation(method: str, path: str) -> Operation:
    item = document()["paths"][path]
    spec = item[method.lower()]
    parameters = []
    for raw in [*item.get("parameters", []), *spec.get("parameters", [])]:
        param = _resolve(raw["$ref"]) if "$ref" in raw else raw  # as written: json_schema drops x- extensions
        schema = json_schema(param.get("schema", {}))
        parameters.append(_Parameter(name=param["name"], where=param["in"], required=bool(param.get("required")),
                                     kind=str(schema.get("type", "string")), check=_compile(param.get("schema", {})),
                                     invalid=param.get("x-invalid", {})))
    body = spec.get("requestBody") or {}
    content = body.get("content", {})
    return Operation(method=method.upper(), path=path, operation_id=spec.get("operationId", ""), parameters=parameters,
                     body_schema=content.get("application/json", {}).get("schema"),
                     body_required=bool(body.get("required")),
                     max_bytes=int(body.get("x-max-bytes", MAX_BODY_BYTES)),
                     invalid_code=str(body.get("x-invalid-code", "validation_failed")),
                     form_schema=content.get(FORM, {}).get("schema"))


@functools.cache
def _compiled_alternative(method: str, path: str, index: int) -> Callable[[Any], Any]:
    body = operation(method, path).body_schema or {}
    return _compile(body["oneOf"][index])


def _resolve(ref: str) -> Any:
    target: Any = document()
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    return target


def excerpt(value: Any) -> str:
    """At most EXCERPT_CHARS of a value, as JSON text."""
    try:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS] + "..."


def _path(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """The path of the value that failed (``data.pings[0].lat``)."""
    assert exc.name is not None  # nosec B101  # type narrowing: the generated validators always name the value
    return exc.name


def _field_name(name: str, root: str) -> str:
    """fastjsonschema's ``data.pings[0].lat`` as ``pings[0].lat`` (``root`` for the whole value)."""
    rest = name[len("data"):] if name.startswith("data") else name
    return rest.lstrip(".") or root


# ---------------------------------------------------------------- parameters
def _query_value(param: _Parameter, text: str) -> Any:
    if param.kind == "integer":
        if not re.fullmatch(r"-?\d{1,18}", text):
            raise ValueError("a whole number")
        return int(text)
    if param.kind == "number":
        value = float(text) if re.fullmatch(r"-?\d{1,18}(\.\d{1,18})?", text) else math.nan
        if not math.isfinite(value):
            raise ValueError("a number")
        return value
    if param.kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError("true or false")
        return text == "true"
    return text


def check_parameters(op: Operation, path: Mapping[str, str] | None, query: Mapping[str, str] | None) -> dict[str, Any]:
    """The operation's query parameters, read by their types (defaults not filled in);
    raises a domain error for an unknown, missing or invalid parameter."""
    path, query = dict(path or {}), dict(query or {})
    for param in (p for p in op.parameters if p.where == "path"):
        value = path.get(param.name, "")
        try:
            param.check(value)
        except fastjsonschema.JsonSchemaValueException:
            invalid = param.invalid or {"status": 404, "code": "not_found", "message": f"no such {param.name}"}
            raise error_for_status(int(invalid["status"]))(str(invalid["code"]), str(invalid["message"]),
                                                           [{"field": param.name, "value": excerpt(value)}]) from None
    known = {p.name: p for p in op.parameters if p.where == "query"}
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise Invalid("bad_request", _short("unknown query parameter(s): " + ", ".join(excerpt(n) for n in unknown)),
                       [{"field": excerpt(name)} for name in unknown[:10]])
    values: dict[str, Any] = {}
    for name, param in known.items():
        if name not in query:
            if param.required:
                raise Invalid("bad_request", f"{name} is required", [{"field": name}])
            continue
        text = query[name]
        try:
            value = _query_value(param, text)
            param.check(value)
        except (ValueError, fastjsonschema.JsonSchemaValueException) as exc:
            reason = exc.message if isinstance(exc, fastjsonschema.JsonSchemaValueException) else str(exc)
            raise Invalid("bad_request", _short(f"{name}: " + reason.replace("data", name, 1)),
                           [{"field": name, "value": excerpt(text)}]) from None
        values[name] = value
    return values


# ---------------------------------------------------------------- bodies
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large")
    return value


def _depth(value: Any) -> int:
    """How deeply ``value`` nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_size(raw: bytes | str | None, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    """The body's bytes; 413 over ``max_bytes``."""
    data = (raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw) or b""
    if len(data) > max_bytes:
        raise TooLarge("payload_too_large", f"the body is over {max_bytes} bytes", [{"field": "body"}])
    return data


def parse_json(raw: bytes | str | None, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The JSON value of a body; None when empty. 413 over ``max_bytes``, 400 when not JSON,
    when it holds NaN/Infinity or a number beyond a float, or nests deeper than MAX_DEPTH."""
    data = check_size(raw, max_bytes)
    if not data:
        return None
    try:
        value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise Invalid("bad_request", f"the JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, numbers
        raise Invalid("bad_request", _short(f"the body is not valid JSON: {exc}"), [{"field": "body"}]) from None
    if _depth(value) > MAX_DEPTH:
        raise Invalid("bad_request", f"the JSON nests deeper than {MAX_DEPTH} levels")
    return value


def check_form(op: Operation, raw: bytes | str | None) -> dict[str, str]:
    """A form-encoded body (``a=1&b=2``), parsed and checked against the operation's form
    schema: 413 over the limit, 400 when it is not a form of UTF-8 text, 422 against the schema."""
    data = check_size(raw, op.max_bytes)
    try:
        pairs = parse_qsl(data.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(data),
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("bad_request", "the body is not a form (name=value&...) of UTF-8 text",
                       [{"field": "body"}]) from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise Invalid("bad_request", "a form field is repeated", [{"field": "body"}])
    try:
        op.check_form(form)
    except fastjsonschema.JsonSchemaValueException as exc:
        name = _field_name(_path(exc), "body")
        raise Unprocessable(op.invalid_code, _short(exc.message.replace(_path(exc), name, 1)),
                       [{"field": excerpt(name), "value": excerpt(exc.value)}]) from None
    return form


def check_body(op: Operation, raw: bytes | str | None, content_type: str | None = None) -> Any:
    """The request's body checked against the operation's schema for its media type: JSON
    (parsed), or a form when the operation takes one and the request says it is one."""
    if op.form_schema is not None and (content_type or "").split(";")[0].strip().lower() == FORM:
        return check_form(op, raw)
    data = check_size(raw, op.max_bytes)
    if not data.strip():
        if op.body_required:
            raise Invalid("bad_request", "a JSON body is required", [{"field": "body"}])
        return None
    value = parse_json(data, op.max_bytes)  # a JSON null is a body, and not an object: 400 below
    try:
        op.check_body(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        name = _field_name(_path(exc), "body")
        at_root = exc.name == "data"
        wrong_type = at_root and (exc.rule == "type" or not isinstance(value, dict))  # not even an object
        if wrong_type:
            raise Invalid("bad_request", _short(exc.message.replace(_path(exc), name, 1)),
                           [_detail(exc, "body")]) from None
        details = [_detail(exc, "body")]
        for problem in _each_field(op, value):
            if problem["field"] not in {d["field"] for d in details}:
                details.append(problem)
        raise Unprocessable(op.invalid_code, _short(exc.message.replace(_path(exc), name, 1)), details[:MAX_DETAILS]) from None
    return value


def _detail(exc: fastjsonschema.JsonSchemaValueException, root: str, field: str | None = None) -> dict[str, Any]:
    return {"field": field or _field_name(_path(exc), root), "message": _short(exc.message.replace(_path(exc) + " ", "", 1)),
            "value": excerpt(exc.value)}


def _each_field(op: Operation, value: Any) -> list[dict[str, Any]]:
    """The first problem of each top-level field of an object body: the schema check stops at
    the first problem, and a phone posting a visit result offline should learn of all its bad
    fields in one answer."""
    schema = json_schema(op.body_schema or {})
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    problems = []
    for name, field_schema in schema["properties"].items():
        if name in value:
            try:
                _compiled(json.dumps(field_schema, sort_keys=True))(value[name])
            except fastjsonschema.JsonSchemaValueException as exc:
                problems.append(_detail(exc, name, field=name + _path(exc)[len("data"):]))
    return problems


@functools.lru_cache(maxsize=256)
def _compiled(schema_text: str) -> Callable[[Any], Any]:
    return _compile(json.loads(schema_text))


def check(schema_name: str, value: Any, root: str) -> list[dict[str, Any]]:
    """Problems of ``value`` against a named component schema (for items judged one by one,
    such as location pings); [] when valid."""
    try:
        _component_checker(schema_name)(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        name = _field_name(_path(exc), "")
        return [{"field": f"{root}.{name}" if name else root,
                 "message": _short(exc.message.replace(_path(exc) + " ", "", 1)), "value": excerpt(exc.value)}]
    return []


@functools.cache
def _component_checker(schema_name: str) -> Callable[[Any], Any]:
    return _compile({"$ref": f"#/components/schemas/{schema_name}"})
