"""SPEC §9 the debtor's page (debtor.page, debtor.links' form tokens, api.debtor_page's
negotiation and cross-site check), without AWS: what it shows, in Spanish, escaped."""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.api.debtor_page import PageRequest, cross_site, wants_html
from cobranza.debtor import links, page

KEY = b"k" * 32
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
TODAY = date(2026, 11, 23)


def a_page(**fields) -> page.Page:
    base = page.Page(root="TOKEN.SIG", form_token="1795000000.abc", lender="Financiera Acme", today=TODAY,
                     max_promise_date=TODAY + timedelta(days=30), balance=Decimal("12345.67"), currency="MXN",
                     due_date=date(2026, 12, 11), payment_reference="300000791991")
    return replace(base, **fields)


def text_of(html: str) -> str:
    """The page's text, tags taken out and spaces folded (what a person reads)."""
    body = html.split("</style>")[-1]
    return re.sub(r"\s+([.,:])", r"\1", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def form(html: str, action_end: str) -> str:
    match = re.search(r'<form method="post" action="[^"]*' + re.escape(action_end) + r'">(.*?)</form>', html, re.S)
    assert match, f"no form posting to ...{action_end}"
    return match.group(1)


# ---------------------------------------------------------------- formatting
@pytest.mark.parametrize("amount, text", [(Decimal("12345.67"), "$12,345.67 MXN"), (Decimal("0"), "$0.00 MXN"),
                                          (Decimal("1000000"), "$1,000,000.00 MXN"), (Decimal("5.5"), "$5.50 MXN")])
def test_amounts_are_written_as_in_mexico(amount, text):
    assert page.money(amount) == text


@pytest.mark.parametrize("day, text", [(date(2026, 12, 11), "11 de diciembre de 2026"), (date(2027, 1, 1), "1 de enero de 2027"),
                                       (date(2026, 9, 30), "30 de septiembre de 2026")])
def test_dates_are_written_in_spanish(day, text):
    assert page.spanish_date(day) == text


def test_the_page_shows_lender_balance_its_date_due_date_and_reference_in_spanish():
    html = page.render(a_page())
    text = text_of(html)
    assert '<html lang="es-MX">' in html and 'name="viewport"' in html
    for shown in ("Financiera Acme", "$12,345.67 MXN", "Saldo al 23 de noviembre de 2026",
                  "Fecha de vencimiento 11 de diciembre de 2026", "300000791991", "Cómo pagar",
                  "Paga con esta referencia en los medios de pago de Financiera Acme"):
        assert shown in text, shown
    assert "<script" not in html and "http" not in html.replace('http-equiv', '')  # no script, no external asset


def test_an_overdue_due_date_says_so():
    assert "(vencida)" in text_of(page.render(a_page(due_date=date(2026, 11, 1))))
    assert "(vencida)" not in text_of(page.render(a_page()))


def test_the_tenants_payment_instructions_replace_the_generic_text_one_paragraph_a_line():
    html = page.render(a_page(payment_instructions="Deposita en BBVA, convenio 1234.\nO transfiere a la CLABE 012180001234567891."))
    assert "<p>Deposita en BBVA, convenio 1234.</p>" in html and "<p>O transfiere a la CLABE 012180001234567891.</p>" in html
    assert "medios de pago de" not in html


def test_without_a_reference_the_page_says_to_ask_the_lender():
    text = text_of(page.render(a_page(payment_reference=None)))
    assert "Comunícate con Financiera Acme para conocer cómo pagar." in text and "referencia de pago:" not in text


def test_a_malicious_lender_name_reference_and_instructions_are_escaped():
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    html = page.render(a_page(lender=evil, payment_reference=evil, payment_instructions=evil,
                              errors={"amount": "x"}, values={"amount": evil, "date": '"><b>'}))
    assert "<script>" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'value="&lt;script&gt;' in html  # what the debtor typed comes back escaped in the field
    problem = page.render_problem("expired_link", lender=evil, back="../T")
    assert "<script>" not in problem and "&lt;script&gt;" in problem


# ---------------------------------------------------------------- promise
def test_the_promise_form_has_amount_and_a_date_from_today_to_30_days_and_a_visible_button():
    html = page.render(a_page())
    fields = form(html, "TOKEN.SIG/promise")
    assert 'type="hidden" name="csrf" value="1795000000.abc"' in fields
    assert 'name="amount"' in fields and '<label for="amount">Monto a pagar (MXN)</label>' in fields
    assert 'name="date" required min="2026-11-23" max="2026-12-23"' in fields and '<label for="date">' in fields
    assert "<button type=\"submit\">Registrar promesa de pago</button>" in fields


def test_the_open_promise_is_shown():
    text = text_of(page.render(a_page(status="promised", promise=page.Promise(Decimal("1500"), date(2026, 12, 1)))))
    assert "Prometiste pagar $1,500.00 MXN a más tardar el 1 de diciembre de 2026." in text
    assert "Una nueva promesa reemplaza la anterior." in text


def test_after_the_form_the_page_confirms_the_promise():
    view = a_page(status="promised", promise=page.Promise(Decimal("1500.5"), date(2026, 12, 1)), done="promesa")
    html = page.render(view)
    assert 'role="status"' in html
    assert "Registramos tu promesa de pago de $1,500.50 MXN para el 1 de diciembre de 2026." in text_of(html)


@pytest.mark.parametrize("status", ["paid", "settled", "withdrawn", "disputed", "legal"])
def test_an_account_that_takes_no_promise_has_no_promise_form_and_says_why(status):
    html = page.render(a_page(status=status))
    assert "/promise" not in html
    assert page.STATUS_NOTES[status].format(lender="Financiera Acme") in text_of(html)


def test_a_field_to_fix_shows_its_message_next_to_it_and_keeps_what_was_typed():
    view = a_page(values={"amount": "99999", "date": "2026-11-23"})
    view = replace(view, errors=page.field_errors([{"field": "amount", "message": "at most the balance"}], view))
    fields = form(page.render(view), "TOKEN.SIG/promise")
    assert 'value="99999"' in fields and 'aria-invalid="true"' in fields and 'aria-describedby="amount-help amount-error"' in fields
    assert "Escribe un monto mayor a $0.00 y de hasta $12,345.67 MXN." in text_of(fields)


def test_field_errors_name_each_field_in_spanish():
    view = a_page()
    errors = page.field_errors([{"field": "amount"}, {"field": "date"}, {"field": "channels"}, {"field": "other"}], view)
    assert errors == {"amount": "Escribe un monto mayor a $0.00 y de hasta $12,345.67 MXN.",
                      "date": "Elige una fecha entre el 23 de noviembre de 2026 y el 23 de diciembre de 2026.",
                      "channels": "Elige al menos un canal.", "form": "Revisa los datos del formulario."}


# ---------------------------------------------------------------- opt-out
def test_one_opt_out_form_with_a_checkbox_per_channel_still_received():
    fields = form(page.render(a_page(opted_out=frozenset({"email"}))), "TOKEN.SIG/opt-out")
    assert 'type="hidden" name="csrf"' in fields
    assert '<input type="checkbox" id="channel_sms" name="channel_sms" value="1">' in fields
    assert '<label for="channel_sms">SMS (mensajes de texto)</label>' in fields
    assert 'name="channel_whatsapp" value="1"' in fields
    assert 'name="channel_email"' not in fields  # opted out: shown, not posted
    assert '<input type="checkbox" id="channel_email" checked disabled>' in fields
    assert "Correo electrónico (ya no te escribimos por aquí)" in text_of(fields)
    assert '<button type="submit" class="secondary">Dejar de recibir mensajes</button>' in fields


def test_with_every_channel_opted_out_there_is_nothing_to_post():
    html = page.render(a_page(opted_out=frozenset({"email", "sms", "whatsapp"})))
    assert "/opt-out" not in html
    assert "Ya no recibes mensajes automáticos por correo electrónico, SMS ni WhatsApp." in text_of(html)


def test_after_opting_out_the_page_names_the_channels():
    html = page.render(a_page(opted_out=frozenset({"sms", "email"}), done="baja"))
    assert "Listo. Ya no te enviaremos mensajes automáticos por correo electrónico y SMS." in text_of(html)


def test_an_expired_link_offers_opting_out_only():
    html = page.render(a_page(expired=True, root="../T"))
    assert "Este enlace ya venció" in text_of(html)
    assert "$12,345.67" not in html and "/promise" not in html and "300000791991" not in html
    assert '<form method="post" action="../T/opt-out">' in html


# ---------------------------------------------------------------- the style's hash
def test_the_content_security_policy_allows_exactly_the_pages_own_style():
    html = page.render(a_page())
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    policy = page.content_security_policy()
    assert f"style-src 'sha256-{digest}'" in policy
    for directive in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert ' style="' not in html  # a style attribute would need 'unsafe-inline'


# ---------------------------------------------------------------- form tokens
def test_a_form_token_is_valid_two_hours_for_its_link_only():
    token = links.form_token(KEY, "LINK.A", NOW)
    assert links.form_token_valid(KEY, "LINK.A", token, NOW + timedelta(hours=2))
    assert not links.form_token_valid(KEY, "LINK.A", token, NOW + timedelta(hours=2, seconds=1))
    assert not links.form_token_valid(KEY, "LINK.B", token, NOW)
    assert not links.form_token_valid(b"o" * 32, "LINK.A", token, NOW)
    assert not links.form_token_valid(KEY, "LINK.A", token, NOW - timedelta(minutes=10))  # issued in the future


@given(st.one_of(st.none(), st.integers(), st.text(max_size=80)))
def test_anything_else_is_not_a_form_token(forged):
    assert not links.form_token_valid(KEY, "LINK.A", forged, NOW)


def test_a_form_token_with_another_issue_time_does_not_verify():
    issued, signature = links.form_token(KEY, "LINK.A", NOW).split(".")
    assert not links.form_token_valid(KEY, "LINK.A", f"{int(issued) + 60}.{signature}", NOW)


# ---------------------------------------------------------------- negotiation and cross-site posts
CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"


@pytest.mark.parametrize("accept, html", [(CHROME, True), ("text/html", True), ("text/*", True),
                                          (None, False), ("", False), ("*/*", False), ("application/json", False),
                                          ("application/json, text/html", False), ("text/html;q=0.5, application/json", False),
                                          ("text/html, application/json;q=0.9", True), ("text/html;q=nan", False),
                                          ("text/html;q=2", False)])
def test_a_browser_is_one_whose_accept_prefers_html_to_json(accept, html):
    assert wants_html(accept) is html


@pytest.mark.parametrize("headers, foreign", [
    ({}, False),
    ({"origin": "https://api.example.com", "host": "api.example.com"}, False),
    ({"origin": "http://127.0.0.1:3000", "host": "127.0.0.1:3000"}, False),
    ({"origin": "https://links.example.mx"}, False),  # the links' public base URL
    ({"referer": "https://api.example.com/api/v1/self/T", "host": "api.example.com"}, False),
    ({"origin": "https://evil.example", "host": "api.example.com"}, True),
    ({"origin": "null", "host": "api.example.com"}, True),
    ({"origin": "https://api.example.com.evil.example", "host": "api.example.com"}, True),
    ({"referer": "https://evil.example/page", "host": "api.example.com"}, True),
    ({"origin": "https://evil.example", "referer": "https://api.example.com/x", "host": "api.example.com"}, True),
])
def test_a_form_post_naming_another_site_is_cross_site(headers, foreign):
    request = PageRequest(method="POST", path="/v1/self/{token}/promise", headers=headers, domain="api.example.com")
    assert cross_site(request, "https://links.example.mx/api") is foreign
