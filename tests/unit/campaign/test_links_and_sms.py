"""SPEC §7 self-service links (debtor.links) and SMS text in GSM-7 (channels.sms; nothing is sent)."""
import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.channels import sms
from cobranza.debtor import links

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
NOW = datetime(2026, 10, 5, 12, 0, tzinfo=timezone.utc)


def _payload(token):
    payload = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def reason(key, token, now):
    with pytest.raises(links.InvalidLink) as raised:
        links.verify(key, token, now)
    return raised.value.reason


# ---------------------------------------------------------------- links
def test_a_signed_link_verifies_to_its_tenant_and_account():
    token = links.sign(KEY, "tenant-1", "ACC-0001", NOW)
    assert links.verify(KEY, token, NOW) == ("tenant-1", "ACC-0001")


def test_a_token_is_url_safe_and_carries_tenant_account_and_expiry():
    token = links.sign(KEY, "tenant-1", "ACC-0001", NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}", token)  # 16-byte signature, no padding
    assert _payload(token) == ["tenant-1", "ACC-0001", int((NOW + timedelta(days=30)).timestamp())]


def test_a_link_is_valid_up_to_its_expiry_second_inclusive():
    token = links.sign(KEY, "t", "a", NOW)
    assert links.verify(KEY, token, NOW + timedelta(days=30)) == ("t", "a")
    assert reason(KEY, token, NOW + timedelta(days=30, seconds=1)) == "expired"


def test_the_link_lifetime_can_be_chosen():
    token = links.sign(KEY, "t", "a", NOW, days=1)
    assert links.verify(KEY, token, NOW + timedelta(hours=23)) == ("t", "a")
    assert reason(KEY, token, NOW + timedelta(days=2)) == "expired"


def test_the_same_inputs_give_the_same_token():
    assert links.sign(KEY, "t", "a", NOW) == links.sign(KEY, "t", "a", NOW)
    assert links.sign(KEY, "t", "a", NOW) != links.sign(KEY, "t", "b", NOW)


def test_a_link_for_another_account_cannot_be_forged_from_a_valid_one():
    token = links.sign(KEY, "tenant-1", "ACC-0001", NOW)
    payload, signature = token.split(".")
    forged = _b64(json.dumps(["tenant-1", "ACC-0002", _payload(token)[2]], separators=(",", ":")).encode())
    assert reason(KEY, f"{forged}.{signature}", NOW) == "invalid"


def test_a_link_whose_expiry_was_pushed_back_is_rejected():
    token = links.sign(KEY, "t", "a", NOW)
    tenant, account, expires = _payload(token)
    extended = _b64(json.dumps([tenant, account, expires + 365 * 86400], separators=(",", ":")).encode())
    assert reason(KEY, f"{extended}.{token.split('.')[1]}", NOW + timedelta(days=40)) == "invalid"


@pytest.mark.parametrize("position", [0, 5, -1])
def test_a_changed_character_in_the_payload_or_the_signature_is_rejected(position):
    token = links.sign(KEY, "tenant-1", "ACC-0001", NOW)
    payload, signature = token.split(".")

    def flip(text):
        chars = list(text)
        chars[position] = "A" if chars[position] != "A" else "B"
        return "".join(chars)

    assert reason(KEY, f"{flip(payload)}.{signature}", NOW) == "invalid"
    assert reason(KEY, f"{payload}.{flip(signature)}", NOW) == "invalid"


def test_a_link_signed_with_another_key_is_rejected():
    token = links.sign(OTHER_KEY, "t", "a", NOW)
    assert reason(KEY, token, NOW) == "invalid"


def test_a_forged_link_is_invalid_even_when_also_expired():
    token = links.sign(OTHER_KEY, "t", "a", NOW)
    assert reason(KEY, token, NOW + timedelta(days=90)) == "invalid"


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.", ".abc", "abc.def", "a.b.c", "!!!.???"])
def test_a_malformed_token_is_invalid(token):
    assert reason(KEY, token, NOW) == "invalid"


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", b'{"t":1}', b"null", b"5", b"\xff\xfe"])
def test_a_correctly_signed_payload_of_the_wrong_shape_is_invalid(payload):
    encoded = _b64(payload)
    token = f"{encoded}.{links._signature(KEY, encoded)}"
    assert reason(KEY, token, NOW) == "invalid"


def test_invalid_link_is_a_value_error_with_its_reason_as_message():
    error = links.InvalidLink("expired")
    assert isinstance(error, ValueError) and str(error) == "expired" and error.reason == "expired"


@settings(max_examples=300, deadline=None)
@given(tenant=st.text(), account=st.text(), key=st.binary(min_size=1, max_size=64),
       now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(timezone.utc)),
       days=st.integers(1, 90), elapsed=st.integers(0, 90 * 86400))
def test_any_tenant_and_account_round_trip_until_expiry(tenant, account, key, now, days, elapsed):
    token = links.sign(key, tenant, account, now, days=days)
    later = now + timedelta(seconds=elapsed)
    lifetime = days * 86400
    if elapsed < lifetime:  # expiry is kept to the whole second, so the very last second is left open
        assert links.verify(key, token, later) == (tenant, account)
    elif elapsed > lifetime:
        assert reason(key, token, later) == "expired"
    assert reason(key + b"x", token, now) == "invalid"


# ---------------------------------------------------------------- SMS: GSM-7
GSM7 = sms.GSM7_BASIC | sms.GSM7_EXTENSION


def test_the_gsm7_tables_have_the_standard_sizes():
    assert len(sms.GSM7_BASIC) == 127  # 128 code points, one of them the escape to the extension table
    assert len(sms.GSM7_EXTENSION) == 10


def test_gsm7_text_is_kept_unchanged():
    text = "Hola José, su saldo es $1,000.00 (MXN) al 05/10. ¿Dudas? ¡Llame! Niño, pingüino, €, [x] {y} ~|^\\"
    assert sms.to_gsm7(text) == text


@pytest.mark.parametrize("accented, plain", [("á", "a"), ("í", "i"), ("ó", "o"), ("ú", "u"),
                                             ("Á", "A"), ("Í", "I"), ("Ó", "O"), ("Ú", "U"), ("ç", "c")])
def test_letters_outside_gsm7_lose_their_accent(accented, plain):
    assert sms.to_gsm7(accented) == plain


@pytest.mark.parametrize("letter", ["é", "ñ", "ü", "É", "Ñ", "Ü", "à", "è", "ù", "ì", "ò", "¿", "¡"])
def test_letters_of_gsm7_keep_their_accent(letter):
    assert sms.to_gsm7(letter) == letter


def test_a_spanish_sentence_becomes_gsm7():
    assert sms.to_gsm7("Crédito Fácil: último aviso, vencío el día señalado. Pingüino") == \
        "Crédito Facil: ultimo aviso, vencio el dia señalado. Pingüino"


@pytest.mark.parametrize("char", ["😀", "“", "”", "中", "\u0301", "\t"])
def test_characters_without_a_gsm7_form_become_a_question_mark(char):
    assert sms.to_gsm7(char) == "?"


@given(st.text())
def test_to_gsm7_always_yields_gsm7_text_of_the_same_length_or_longer(text):
    converted = sms.to_gsm7(text)
    assert set(converted) <= GSM7
    assert len(converted) >= len(text)
    assert sms.to_gsm7(converted) == converted


@given(st.text(alphabet=sorted(GSM7)))
def test_to_gsm7_leaves_any_gsm7_text_alone(text):
    assert sms.to_gsm7(text) == text


@pytest.mark.parametrize("length, parts", [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)])
def test_gsm7_segments_hold_160_alone_or_153_each(length, parts):
    assert sms.segments("a" * length) == parts


@pytest.mark.parametrize("length, parts", [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_segments_hold_70_alone_or_67_each(length, parts):
    assert sms.segments("á" + "a" * (length - 1)) == parts


def test_extension_characters_count_double():
    assert sms.segments("€" * 80) == 1
    assert sms.segments("€" * 81) == 2
    assert sms.segments("a" * 159 + "€") == 2
    assert sms.segments("a" * 158 + "[") == 1
    assert sms.segments("{" * 153) == 2  # 306 units


def test_a_character_outside_a_bmp_counts_two_ucs2_units():
    assert sms.segments("😀" * 35) == 1
    assert sms.segments("😀" * 36) == 2


def test_one_accent_outside_gsm7_would_switch_the_whole_text_to_ucs2():
    text = "a" * 100
    assert sms.segments(text) == 1
    assert sms.segments(text + "ó") == 2
    assert sms.segments(sms.to_gsm7(text + "ó")) == 1


# ---------------------------------------------------------------- SMS: the reminder text
URL = "https://pagos.example.mx/s/" + "x" * (120 - len("https://pagos.example.mx/s/"))
CONTEXT = {"debtor_name": "María Núñez", "lender": "Financiera Ejemplo", "amount": "1,000.00", "currency": "MXN",
           "as_of": "2026-10-05", "due_date": "2026-10-01", "overdue": True, "payment_reference": "REF-0001234567",
           "self_service_url": URL}


def test_the_spanish_reminder_is_pure_gsm7_and_fits_two_segments_with_a_long_link():
    assert len(URL) == 120
    text = sms.render("es-MX", CONTEXT)
    assert set(text) <= GSM7 and sms.to_gsm7(text) == text
    assert sms.segments(text) <= 2
    assert "BAJA" in text
    for value in ("Financiera Ejemplo", "1,000.00 MXN", "2026-10-05", "2026-10-01", "REF-0001234567", URL):
        assert value in text


def test_the_spanish_reminder_reads_as_expected():
    assert sms.render("es-MX", CONTEXT) == (
        f"Financiera Ejemplo: saldo 1,000.00 MXN al 2026-10-05, vencio 2026-10-01. Ref REF-0001234567. "
        f"Pague o consulte: {URL} Responda BAJA para no recibir SMS.")


def test_a_preventive_reminder_speaks_of_the_due_date_in_the_future():
    """A reminder sent before the due date says it falls due ("vence"), not that it fell due."""
    upcoming = dict(CONTEXT, as_of="2026-12-04", due_date="2026-12-05", overdue=False)
    assert "vence 2026-12-05." in sms.render("es-MX", upcoming) and "vencio" not in sms.render("es-MX", upcoming)
    assert ", due 2026-12-05." in sms.render("en", upcoming) and "was due" in sms.render("en", CONTEXT)
    assert set(sms.render("es-MX", upcoming)) <= GSM7


def test_the_dispatch_context_knows_whether_the_due_date_has_passed(monkeypatch):
    from cobranza.campaign import sender as dispatch
    from cobranza.debtor import selfservice

    monkeypatch.setattr(selfservice, "links_for", lambda *args: {})
    account = {"tenant_id": "t", "account_id": "a", "debtor_name": "Ana", "balance": "10", "currency": "MXN"}
    for due, planned, overdue in (("2026-12-05", "2026-12-04", False), ("2026-12-05", "2026-12-05", False),
                                  ("2026-12-05", "2026-12-06", True)):
        context = dispatch._context("L", dict(account, due_date=due), {"channel": "sms", "planned_for": planned}, None)
        assert context["overdue"] is overdue, (due, planned)


def test_an_accented_lender_keeps_the_reminder_in_gsm7():
    text = sms.render("es-MX", dict(CONTEXT, lender="Crédito Fácil Señor Núñez"))
    assert text.startswith("Crédito Facil Señor Nuñez:")
    assert set(text) <= GSM7 and sms.segments(text) <= 2


def test_the_reminder_leaves_out_a_missing_reference_and_link():
    context = {k: v for k, v in CONTEXT.items() if k not in ("payment_reference", "self_service_url")}
    text = sms.render("es-MX", context)
    assert "Ref" not in text and "http" not in text and "Pague o consulte" not in text
    assert "BAJA" in text and sms.segments(text) == 1


def test_the_reminder_is_one_line_without_doubled_spaces():
    text = sms.render("es-MX", CONTEXT)
    assert "\n" not in text and "  " not in text and text == text.strip()


def test_the_english_reminder_offers_stop():
    text = sms.render("en", CONTEXT)
    assert "Reply STOP to opt out." in text and set(text) <= GSM7 and sms.segments(text) <= 2


def test_an_unknown_locale_falls_back_to_spanish():
    assert sms.render("fr", CONTEXT) == sms.render("es-MX", CONTEXT)


def test_message_senders_make_exactly_one_attempt(monkeypatch):
    """A retried send whose first try timed out could reach the debtor twice (botocore's
    max_attempts counts retries; total_max_attempts counts tries)."""
    from cobranza.core import aws

    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    aws.reset()
    try:
        assert aws.send_client("ses").meta.config.retries["total_max_attempts"] == 1
        assert aws.send_client("sns").meta.config.retries["total_max_attempts"] == 1
    finally:
        aws.reset()
