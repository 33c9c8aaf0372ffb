"""S3 browser-based uploads (POST object): the signed policy checked as AWS checks it.

moto stores whatever a POST form says, so a form whose `key` was changed to another tenant's prefix
is accepted locally and refused by AWS. `check_post` applies AWS's rules to the form before moto
sees it, and returns the error AWS would answer (or None: the upload goes ahead):

| what is wrong | AWS answers |
|---|---|
| no `policy` and no signature: an anonymous POST (the buckets are never public) | 403 AccessDenied |
| a signature field without the `policy`, or the reverse; a malformed credential | 400 InvalidArgument |
| the policy is not base64 JSON, lacks `expiration` or `conditions`, has an unknown condition | 400 InvalidPolicyDocument |
| the signature does not match the policy and the access key's secret | 403 SignatureDoesNotMatch |
| the policy's `expiration` has passed | 403 AccessDenied "Invalid according to Policy: Policy expired." |
| a condition (`{"f": v}`, `["eq", "$f", v]`, `["starts-with", "$f", prefix]`) fails | 403 AccessDenied "... Policy Condition failed: [...]" |
| a form field no condition names (except `policy`, the signature, `file`, `x-ignore-*`) | 403 AccessDenied "... Extra input fields: ..." |
| the file is outside `["content-length-range", min, max]` | 400 EntityTooSmall / EntityTooLarge |
| no file, or more than one | 400 InvalidArgument |

Form field names are case-insensitive, values are not. Signatures are SigV4 (`x-amz-algorithm`,
`x-amz-credential`, `x-amz-date`, `x-amz-signature`, as boto3's `generate_presigned_post` makes
them) or SigV2 (`AWSAccessKeyId`, `signature`). A signature is verified when the access key's secret
is known (`secret_for`: the local stack's own credentials, keys created in moto's IAM); moto accepts
any credentials elsewhere, so a key it does not know is not refused for that alone.

Pure: the form, the bucket, the clock and the secrets are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

EXEMPT_FIELDS = frozenset({"policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"})
_SIGV4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")


@dataclass(frozen=True)
class PostForm:
    """A POST object request: its text fields (names as sent, in order), the file part's size
    (None: no file part) and how many file parts there were."""

    fields: list[tuple[str, str]]
    file_size: int | None
    file_parts: int = 1


@dataclass(frozen=True)
class PostRefusal:
    """The S3 error a POST gets: HTTP status, `Code`, `Message` and extra elements, as XML."""

    status: int
    code: str
    message: str
    extra: dict[str, str] = field(default_factory=dict)

    def xml(self) -> bytes:
        elements = {"Code": self.code, "Message": self.message, **self.extra,
                    "RequestId": secrets.token_hex(8).upper(),
                    "HostId": base64.b64encode(secrets.token_bytes(48)).decode()}
        inner = "".join(f"<{name}>{escape(str(value), quote=False)}</{name}>" for name, value in elements.items())
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}</Error>'.encode()


def _denied(message: str) -> PostRefusal:
    return PostRefusal(403, "AccessDenied", message)


def _invalid_policy(message: str) -> PostRefusal:
    return PostRefusal(400, "InvalidPolicyDocument", message)


def _missing(name: str) -> PostRefusal:
    return PostRefusal(400, "InvalidArgument",
                       f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the "
                       "order of the fields.", {"ArgumentName": name, "ArgumentValue": ""})


def check_post(form: PostForm, bucket: str, *, secret_for: Callable[[str], str | None],
               now: datetime | None = None) -> PostRefusal | None:
    """The refusal AWS gives this POST to `bucket`, or None when AWS would store the file."""
    values = _form_values(form.fields)
    if isinstance(values, PostRefusal):
        return values
    file_size = _file_size(form)
    if isinstance(file_size, PostRefusal):
        return file_size

    sigv4 = any(name in values for name in _SIGV4_FIELDS)
    refusal = _check_signed(values, sigv4=sigv4)
    if refusal:
        return refusal

    policy_text = values["policy"]
    policy = _decode_policy(policy_text)
    if isinstance(policy, PostRefusal):
        return policy

    refusal = (_check_signature(values, policy_text, secret_for, sigv4=sigv4)
               or _check_expiration(policy["expiration"], now))
    if refusal:
        return refusal

    checked = _check_conditions(policy["conditions"], values, bucket)
    if isinstance(checked, PostRefusal):
        return checked
    covered, length_range = checked
    return _check_extra_fields(values, covered) or _check_length(file_size, length_range)


def _form_values(fields: list[tuple[str, str]]) -> dict[str, str] | PostRefusal:
    """The form's fields by lower-case name; a name sent twice (in any case) is refused."""
    values: dict[str, str] = {}
    for name, value in fields:
        lowered = name.lower()
        if lowered in values:
            return PostRefusal(400, "InvalidArgument", f"The form field {name} appears more than once.",
                               {"ArgumentName": name, "ArgumentValue": value})
        values[lowered] = value
    return values


def _file_size(form: PostForm) -> int | PostRefusal:
    """The size of the form's one file part; no file part, or more than one, is refused."""
    if form.file_size is None:
        return PostRefusal(400, "InvalidArgument", "POST requires exactly one file upload per request.",
                           {"ArgumentName": "file", "ArgumentValue": "0"})
    if form.file_parts != 1:
        return PostRefusal(400, "InvalidArgument", "POST requires exactly one file upload per request.",
                           {"ArgumentName": "file", "ArgumentValue": str(form.file_parts)})
    return form.file_size


def _check_signed(values: Mapping[str, str], *, sigv4: bool) -> PostRefusal | None:
    """A policy and a signature, both or neither (neither: an anonymous POST, refused)."""
    signed = sigv4 or "signature" in values or "awsaccesskeyid" in values
    if "policy" not in values:
        if signed:
            return _missing("policy")
        return _denied("Access Denied")  # anonymous: only a public-write bucket takes it, and none is
    if not signed:
        return _missing("x-amz-signature")
    return None


def _check_expiration(value: Any, now: datetime | None) -> PostRefusal | None:
    expiration = _parse_time(value)
    if expiration is None:
        return _invalid_policy("Invalid Policy: Invalid 'expiration' value: '" + str(value) + "'")
    if (now or datetime.now(UTC)) >= expiration:
        return _denied("Invalid according to Policy: Policy expired.")
    return None


def _check_conditions(conditions: list[Any], values: Mapping[str, str],
                      bucket: str) -> tuple[set[str], tuple[int, int] | None] | PostRefusal:
    """The first condition that is malformed or fails, in order; else the field names the
    conditions cover and the last content-length-range."""
    covered: set[str] = set()
    length_range: tuple[int, int] | None = None
    for condition in conditions:
        parsed = _parse_condition(condition)
        if isinstance(parsed, PostRefusal):
            return parsed
        operator, name, expected = parsed
        if operator == "content-length-range":
            length_range = expected
            continue
        covered.add(name)
        actual = bucket if name == "bucket" else values.get(name)
        if not _holds(operator, name, actual, expected):
            shown = json.dumps([operator, f"${name}" if name != "bucket" else "$bucket", expected])
            return _denied(f"Invalid according to Policy: Policy Condition failed: {shown}")
    return covered, length_range


def _check_extra_fields(values: Mapping[str, str], covered: set[str]) -> PostRefusal | None:
    extra = sorted(name for name in values
                   if name not in covered and name not in EXEMPT_FIELDS and not name.startswith("x-ignore-"))
    if extra:
        return _denied("Invalid according to Policy: Extra input fields: " + ", ".join(extra))
    return None


def _check_length(file_size: int, length_range: tuple[int, int] | None) -> PostRefusal | None:
    if length_range is None:
        return None
    low, high = length_range
    if file_size < low:
        return PostRefusal(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                           {"ProposedSize": str(file_size), "MinSizeAllowed": str(low)})
    if file_size > high:
        return PostRefusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                           {"ProposedSize": str(file_size), "MaxSizeAllowed": str(high)})
    return None


def _decode_policy(text: str) -> dict | PostRefusal:
    try:
        document = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return _invalid_policy("Invalid Policy: Invalid JSON.")
    if not isinstance(document, dict):
        return _invalid_policy("Invalid Policy: Invalid JSON.")
    if "expiration" not in document:
        return _invalid_policy("Invalid Policy: Policy missing expiration.")
    if not isinstance(document.get("conditions"), list):
        return _invalid_policy("Invalid Policy: Policy missing conditions.")
    return document


def _check_signature(values: Mapping[str, str], policy_text: str, secret_for: Callable[[str], str | None], *,
                     sigv4: bool) -> PostRefusal | None:
    signing = _sigv4_signature if sigv4 else _sigv2_signature
    signed = signing(values, policy_text, secret_for)
    if signed is None or isinstance(signed, PostRefusal):
        return signed
    access_key, expected, provided = signed
    if hmac.compare_digest(expected.encode(), provided.encode()):
        return None
    return PostRefusal(403, "SignatureDoesNotMatch",
                       "The request signature we calculated does not match the signature you provided. "
                       "Check your key and signing method.",
                       {"AWSAccessKeyId": access_key, "StringToSign": policy_text, "SignatureProvided": provided})


# What the signing helpers return: `(access key, expected signature, provided signature)`; a refusal
# when the signature fields are incomplete or malformed; None when the secret of the access key is not
# known (a key moto does not know: moto takes any credentials).
_Signed = tuple[str, str, str] | PostRefusal | None


def _sigv4_signature(values: Mapping[str, str], policy_text: str, secret_for: Callable[[str], str | None]) -> _Signed:
    for name in _SIGV4_FIELDS:
        if name not in values:
            return _missing(name)
    if values["x-amz-algorithm"] != "AWS4-HMAC-SHA256":
        return PostRefusal(400, "InvalidArgument", "Only AWS4-HMAC-SHA256 is supported",
                           {"ArgumentName": "x-amz-algorithm", "ArgumentValue": values["x-amz-algorithm"]})
    scope = values["x-amz-credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]:
        return PostRefusal(400, "InvalidArgument", "Error parsing the X-Amz-Credential parameter",
                           {"ArgumentName": "x-amz-credential", "ArgumentValue": values["x-amz-credential"]})
    access_key, date, region, service, _ = scope
    secret = secret_for(access_key)
    if secret is None:
        return None  # a key moto does not know: moto takes any credentials
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, policy_text.encode(), hashlib.sha256).hexdigest()
    return access_key, expected, values["x-amz-signature"]


def _sigv2_signature(values: Mapping[str, str], policy_text: str, secret_for: Callable[[str], str | None]) -> _Signed:
    for name in ("awsaccesskeyid", "signature"):
        if name not in values:
            return _missing("AWSAccessKeyId" if name == "awsaccesskeyid" else name)
    access_key = values["awsaccesskeyid"]
    secret = secret_for(access_key)
    if secret is None:
        return None
    expected = base64.b64encode(hmac.new(secret.encode(), policy_text.encode(), hashlib.sha1).digest()).decode()
    return access_key, expected, values["signature"]


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _parse_condition(condition: Any) -> tuple[str, str, Any] | PostRefusal:
    """`(operator, lower-case field name, expected)`; for content-length-range `(op, "", (min, max))`."""
    if isinstance(condition, dict):
        if len(condition) != 1:
            return _invalid_policy("Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly "
                                   "one property specified.")
        ((name, expected),) = condition.items()
        if not isinstance(expected, str):
            return _invalid_policy(f"Invalid Policy: Invalid Simple-Condition: value must be a string: {name}")
        return "eq", name.lower(), expected
    if isinstance(condition, list) and condition and condition[0] == "content-length-range":
        try:
            low, high = (int(bound) for bound in condition[1:])
        except (TypeError, ValueError):
            return _invalid_policy("Invalid Policy: Invalid content-length-range: " + json.dumps(condition))
        return "content-length-range", "", (low, high)
    if (isinstance(condition, list) and len(condition) == 3 and condition[0] in ("eq", "starts-with")
            and isinstance(condition[1], str) and condition[1].startswith("$") and isinstance(condition[2], str)):
        return condition[0], condition[1][1:].lower(), condition[2]
    return _invalid_policy("Invalid Policy: Invalid Condition: " + json.dumps(condition))


def _holds(operator: str, name: str, actual: str | None, expected: str) -> bool:
    if actual is None:
        return operator == "starts-with" and expected == ""  # ["starts-with", "$f", ""]: any value, or none
    if operator == "eq":
        return actual == expected
    if name == "content-type":  # each of a comma-separated list must match
        return all(part.strip().startswith(expected) for part in actual.split(","))
    return actual.startswith(expected)
