"""api.contract and core.page_tokens, without AWS: what the API refuses before any use case runs."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.api import contract
from cobranza.api.errors import http_status
from cobranza.core import page_tokens
from cobranza.core.errors import DomainError

SECRET = b"k" * 32


def refused(call, *args):
    with pytest.raises(DomainError) as caught:
        call(*args)
    caught.value.status = http_status(caught.value)  # as the API answers it
    return caught.value


@pytest.mark.parametrize("raw", [b"{nope", b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1e999}', b"\xff", b"[" * 5000])
def test_what_is_not_finite_json_is_400(raw):
    assert refused(contract.parse_json, raw).status == 400


def test_nesting_is_read_up_to_32_levels_and_refused_from_33():
    assert contract.parse_json(("[" * 32 + "]" * 32).encode()) is not None
    assert refused(contract.parse_json, ("[" * 33 + "]" * 33).encode()).status == 400


def test_a_body_over_its_limit_is_413_before_it_is_parsed():
    assert refused(contract.check_size, b"x" * (contract.MAX_BODY_BYTES + 1)).status == 413
    policy = contract.operation("PUT", "/v1/policy")
    assert policy.max_bytes == 200_000 and policy.invalid_code == "invalid_policy"
    assert refused(contract.check_body, policy, b" " * 200_001).status == 413


def test_an_error_names_the_field_and_shows_an_excerpt_only():
    error = refused(contract.check_body, contract.operation("POST", "/v1/visits"),
                    json.dumps({"account_id": "A" * 100_000}).encode())
    assert error.status == 422 and error.details[0]["field"] == "account_id"
    assert len(json.dumps(error.body())) < 1_000


def test_each_bad_top_level_field_is_named_once():
    op = contract.operation("POST", "/v1/me/visits/{visit_id}/result")
    body = {"idempotency_key": "", "captured_at": "yesterday", "location": {"lat": 91, "lon": 0, "accuracy_m": 1},
            "outcome": "nope", "photos": ["x"]}
    error = refused(contract.check_body, op, json.dumps(body).encode())
    assert {d["field"] for d in error.details} >= {"idempotency_key", "captured_at", "location.lat", "outcome",
                                                   "photos[0]"}


@pytest.mark.parametrize("token, status", [("é.x", 401), ("a" * 600 + ".b", 401), ("nodot", 401)])
def test_a_link_token_of_another_shape_is_401_from_its_path(token, status):
    op = contract.operation("POST", "/v1/self/{token}/promise")
    assert refused(contract.check_parameters, op, {"token": token}, {}).status == status


def test_a_json_null_body_is_not_an_empty_one():
    op = contract.operation("POST", "/v1/accounts/{account_id}/opt-outs")
    assert contract.check_body(op, b"") is None
    assert refused(contract.check_body, op, b"null").status == 400


@given(st.dictionaries(st.sampled_from(["tenant_id", "account_id", "visit_id"]), st.text(max_size=20), min_size=1))
def test_a_page_token_opens_only_for_the_scope_it_was_sealed_for(position):
    wire = {k: {"S": v} for k, v in position.items()}
    token = page_tokens.seal(SECRET, "accounts|acme|stage=judicial", wire)
    assert page_tokens.unseal(SECRET, "accounts|acme|stage=judicial", token) == wire
    for other in ("accounts|acme", "accounts|zeta|stage=judicial", "visits|acme|stage=judicial"):
        with pytest.raises(page_tokens.InvalidPageToken):
            page_tokens.unseal(SECRET, other, token)
    payload, _, signature = token.partition(".")
    for altered in (payload + "A." + signature, payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B")):
        with pytest.raises(page_tokens.InvalidPageToken):
            page_tokens.unseal(SECRET, "accounts|acme|stage=judicial", altered)
