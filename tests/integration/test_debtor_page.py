"""SPEC §9 the debtor's page: the self-service link opened in a browser, through the Chalice app
on moto. Its forms post without JavaScript and need the page's form token; JSON clients and the
email's one-click unsubscribe are answered as before."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from tests.integration.test_campaign_dispatch import account, rows, timeline

MORNING = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 10:00 in Mexico City
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FORM = "application/x-www-form-urlencoded"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture
def now():
    return MORNING


@pytest.fixture
def api(stack):
    from chalice.test import Client

    from tests.helpers import load_function

    with Client(load_function("api").app) as client:
        yield client.http


@pytest.fixture
def link(stack, tenant, upload):
    """C0 of acme (owes 1,000.00, due 2026-11-20) and its self-service link's token."""
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    upload("portfolios/acme/a.csv", rows(2))
    return links.sign(link_key(), "acme", "C0", MORNING)


def browse(api, path):
    return api.get(path, headers={"accept": BROWSER, "host": HOST})


def header(response, name) -> str | None:
    return {k.lower(): v for k, v in response.headers.items()}.get(name.lower())


def html(response) -> str:
    return response.body.decode("utf-8")


def text(response) -> str:
    body = html(response).split("</style>")[-1]
    return re.sub(r"\s+([.,:])", r"\1", re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def form_token(api, token) -> str:
    page = browse(api, f"/v1/self/{token}")
    assert page.status_code == 200, page.body
    return re.search(r'name="csrf" value="([^"]+)"', html(page)).group(1)


def post_form(api, path, fields, **headers):
    return api.post(path, headers={"content-type": FORM, "accept": BROWSER, "host": HOST, **headers},
                    body=urlencode(fields))


def recorded(account_id="C0"):
    """What the account and its timeline say was recorded (status, opted-out channels, entry kinds)."""
    stored = account("acme", account_id)
    kinds = sorted({e["kind"] for e in timeline("acme", account_id)} & {"promise", "opt_out"})
    return stored["status"], set(stored.get("opted_out_channels") or ()), kinds


NOTHING = ("active", set(), [])


# ---------------------------------------------------------------- the page and the JSON
def test_a_browser_gets_the_page_in_spanish_with_the_balance_and_the_security_headers(api, link):
    response = browse(api, f"/v1/self/{link}")
    assert response.status_code == 200
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "same-origin"
    policy = headers["content-security-policy"]
    for directive in ("default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    page = text(response)
    for shown in ("Financiera Acme", "$1,000.00 MXN", "Saldo al 23 de noviembre de 2026",
                  "Fecha de vencimiento 20 de noviembre de 2026 (vencida)", "Registrar promesa de pago",
                  "Dejar de recibir mensajes"):
        assert shown in page, shown
    assert f'action="{link}/promise"' in html(response) and f'action="{link}/opt-out"' in html(response)


def test_a_link_opened_from_a_messenger_with_its_tracking_parameters_still_shows_the_page(api, link):
    """Messengers and campaign tools add fbclid, utm_*: the page ignores them (and a bad hecho)."""
    response = browse(api, f"/v1/self/{link}?fbclid=IwAR0abc&utm_source=whatsapp&hecho=otra")
    assert response.status_code == 200 and "$1,000.00 MXN" in text(response)
    assert header(response, "vary") == "Accept"
    assert "Registramos" not in text(response) and "Listo." not in text(response)
    assert header(api.get(f"/v1/self/{link}"), "vary") == "Accept"  # JSON from the same URL
    for strict in ("?hecho=x", "?fbclid=IwAR0abc"):  # API clients keep the document's strict check
        answer = api.get(f"/v1/self/{link}{strict}")
        assert answer.status_code == 400 and json.loads(answer.body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("sent, action", [("/api/v1/self/{link}", "{link}/promise"), ("/api/v1/self/{link}/", "./promise")])
def test_the_forms_post_to_the_page_s_own_routes_with_or_without_a_trailing_slash(stack, link, sent, action):
    """API Gateway routes `.../<token>/` to the page too: its relative actions must still land."""
    from cobranza.api import debtor_page

    request = debtor_page.PageRequest(method="GET", path="/v1/self/{token}", uri_params={"token": link},
                                      headers={"accept": BROWSER, "host": HOST}, sent_path=sent.format(link=link))
    answer = debtor_page.show(link, request)
    assert answer.status == 200 and f'action="{action.format(link=link)}"' in answer.body


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html"])
def test_api_clients_keep_the_json(api, link, accept):
    response = api.get(f"/v1/self/{link}", headers={"accept": accept} if accept else {})
    assert response.status_code == 200 and header(response, "content-type") in (None, "application/json")
    assert json.loads(response.body) == {
        "lender": "Financiera Acme", "balance": "1000.00", "currency": "MXN", "due_date": "2026-11-20",
        "payment_reference": None, "status": "active", "promise": None, "opted_out_channels": [],
        "actions": {"promise": f"/v1/self/{link}/promise", "opt_out": f"/v1/self/{link}/opt-out"}}


def test_the_tenants_payment_instructions_are_on_the_page(api, link):
    from cobranza.tenants import store as tenants

    tenants.save_policy(tenants.get_tenant("acme"), {"debtor_page": {"payment_instructions": "Transfiere a la CLABE 012180001234567891."}}, None)
    assert "Transfiere a la CLABE 012180001234567891." in text(browse(api, f"/v1/self/{link}"))


def test_an_expired_link_is_a_401_page_that_still_offers_opting_out(api, link, clock):
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    old = links.sign(link_key(), "acme", "C0", MORNING - timedelta(days=40))
    response = browse(api, f"/v1/self/{old}")
    assert response.status_code == 401 and header(response, "content-type") == "text/html; charset=utf-8"
    assert "Este enlace ya venció" in text(response) and "$1,000.00" not in text(response)
    token = re.search(r'name="csrf" value="([^"]+)"', html(response)).group(1)
    done = post_form(api, f"/v1/self/{old}/opt-out", {"csrf": token, "channel_whatsapp": "1"})
    assert done.status_code == 303 and recorded()[1] == {"whatsapp"}
    assert api.get(f"/v1/self/{old}").status_code == 401  # JSON as before


@pytest.mark.parametrize("path, status", [("/v1/self/nodot", 401), ("/v1/self/abc.def", 401)])
def test_a_bad_link_or_parameter_is_an_html_page_for_a_browser_and_json_for_the_rest(api, link, path, status):
    path = path.format(link=link)
    page = browse(api, path)
    assert page.status_code == status and header(page, "content-type") == "text/html; charset=utf-8"
    assert "<h2>" in html(page) and '"error"' not in html(page)
    plain = api.get(path)
    assert plain.status_code == status and json.loads(plain.body)["error"]["code"] in ("unauthorized", "bad_request")


def test_a_link_whose_account_is_gone_is_a_404_page(api, link):
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    response = browse(api, f"/v1/self/{links.sign(link_key(), 'acme', 'NOPE', MORNING)}")
    assert response.status_code == 404 and "Esta cuenta ya no está disponible" in text(response)


# ---------------------------------------------------------------- the promise form
def test_the_promise_form_records_the_promise_and_the_page_confirms_it(api, link):
    csrf = form_token(api, link)
    response = post_form(api, f"/v1/self/{link}/promise", {"csrf": csrf, "amount": "$1,000", "date": "2026-11-30"},
                         origin=f"https://{HOST}")
    assert response.status_code == 303, response.body
    assert header(response, "location") == f"../{link}?hecho=promesa"
    stored = account("acme", "C0")
    assert (stored["status"], stored["promise_date"], stored["promise_amount"]) == ("promised", "2026-11-30", 1000)
    assert [e["source"] for e in timeline("acme", "C0") if e["kind"] == "promise"] == ["debtor_link"]
    page = text(browse(api, f"/v1/self/{link}?hecho=promesa"))
    assert "Registramos tu promesa de pago de $1,000.00 MXN para el 30 de noviembre de 2026." in page
    assert "Prometiste pagar $1,000.00 MXN a más tardar el 30 de noviembre de 2026." in page


def _expired_form_token(link):
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    return links.form_token(link_key(), link, MORNING - timedelta(hours=2, minutes=1))


def _other_links_form_token(link):
    from cobranza.core.signing import link_key
    from cobranza.debtor import links

    return links.form_token(link_key(), links.sign(link_key(), "acme", "C1", MORNING), MORNING)


@pytest.mark.parametrize("forge", [lambda link: None, lambda link: "", lambda link: "1795000000.AAAAAAAAAAAAAAAAAAAAAA",
                                   _expired_form_token, _other_links_form_token],
                         ids=["missing", "empty", "forged", "expired", "another_link"])
def test_a_form_post_without_a_valid_form_token_is_403_and_records_nothing(api, link, forge):
    fields = {"amount": "500", "date": "2026-11-30"}
    token = forge(link)
    if token is not None:
        fields["csrf"] = token
    response = post_form(api, f"/v1/self/{link}/promise", fields)
    assert response.status_code == 403 and header(response, "content-type") == "text/html; charset=utf-8"
    assert "Por seguridad, tu formulario venció" in text(response)
    assert re.search(r'name="csrf" value="\d+\.', html(response))  # the page again, with a fresh form token
    opt_out = post_form(api, f"/v1/self/{link}/opt-out", {**({"csrf": token} if token is not None else {}),
                                                          "channel_sms": "1"})
    assert opt_out.status_code == 403
    assert recorded() == NOTHING


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {"origin": "null"},
                                     {"referer": "https://evil.example/trap.html"}])
def test_a_form_posted_from_another_site_is_403_even_with_a_form_token(api, link, headers):
    csrf = form_token(api, link)
    assert post_form(api, f"/v1/self/{link}/promise", {"csrf": csrf, "amount": "500", "date": "2026-11-30"},
                     **headers).status_code == 403
    assert post_form(api, f"/v1/self/{link}/opt-out", {"csrf": csrf, "channel_email": "1"}, **headers).status_code == 403
    assert recorded() == NOTHING


@pytest.mark.parametrize("content_type, body", [("text/plain", "amount=500&date=2026-11-30"),
                                                ("multipart/form-data; boundary=x", "--x--"),
                                                (None, '{"amount": "500", "date": "2026-11-30"}')])
def test_a_body_that_is_neither_json_nor_the_form_records_nothing(api, link, content_type, body):
    headers = {"content-type": content_type} if content_type else {}
    assert api.post(f"/v1/self/{link}/promise", headers=headers, body=body).status_code == 415
    assert api.post(f"/v1/self/{link}/opt-out", headers=headers, body="").status_code == 415
    assert recorded() == NOTHING


def test_a_promise_to_fix_is_422_with_the_message_next_to_the_field(api, link):
    csrf = form_token(api, link)
    response = post_form(api, f"/v1/self/{link}/promise", {"csrf": csrf, "amount": "5000", "date": "2026-11-30"})
    assert response.status_code == 422 and header(response, "content-type") == "text/html; charset=utf-8"
    page = html(response)
    assert 'id="amount-error">Escribe un monto mayor a $0.00 y de hasta $1,000.00 MXN.</p>' in page
    assert 'value="5000"' in page and 'value="2026-11-30"' in page  # what the debtor typed, to fix
    assert f'action="../{link}/promise"' in page  # the answer's URL is .../promise
    late = post_form(api, f"/v1/self/{link}/promise", {"csrf": csrf, "amount": "10", "date": "2027-01-30"})
    assert late.status_code == 422
    assert "Elige una fecha entre el 23 de noviembre de 2026 y el 23 de diciembre de 2026." in text(late)
    assert recorded() == NOTHING


def test_an_account_that_takes_no_promise_answers_the_form_with_409(api, link):
    from cobranza.accounts import store as accounts_repo

    csrf = form_token(api, link)
    accounts_repo.update_fields("acme", "C0", {"status": "disputed"})
    response = post_form(api, f"/v1/self/{link}/promise", {"csrf": csrf, "amount": "500", "date": "2026-11-30"})
    assert response.status_code == 409 and "Tu cuenta ya no acepta promesas de pago" in text(response)
    assert "/promise" not in html(response)


def test_json_posts_are_answered_as_before(api, link):
    response = api.post(f"/v1/self/{link}/promise", headers={"content-type": "application/json"},
                        body=json.dumps({"amount": "500", "date": "2026-11-30"}))
    assert response.status_code == 201 and json.loads(response.body)["promise"] == {"amount": "500.00", "date": "2026-11-30"}
    response = api.post(f"/v1/self/{link}/opt-out", headers={"content-type": "application/json"},
                        body=json.dumps({"channels": ["sms"]}))
    assert response.status_code == 200 and json.loads(response.body)["opted_out_channels"] == ["sms"]


# ---------------------------------------------------------------- the opt-out form
def test_the_opt_out_form_for_sms_only_opts_out_of_sms_only(api, link):
    csrf = form_token(api, link)
    response = post_form(api, f"/v1/self/{link}/opt-out", {"csrf": csrf, "channel_sms": "1"})
    assert response.status_code == 303 and header(response, "location") == f"../{link}?hecho=baja"
    assert recorded() == ("active", {"sms"}, ["opt_out"])
    page = browse(api, f"/v1/self/{link}?hecho=baja")
    assert "Listo. Ya no te enviaremos mensajes automáticos por SMS." in text(page)
    assert '<input type="checkbox" id="channel_sms" checked disabled>' in html(page)
    assert 'name="channel_email"' in html(page) and 'name="channel_whatsapp"' in html(page)


def test_the_opt_out_form_without_a_channel_is_422(api, link):
    response = post_form(api, f"/v1/self/{link}/opt-out", {"csrf": form_token(api, link)})
    assert response.status_code == 422 and "Elige al menos un canal." in text(response)
    assert recorded() == NOTHING


def test_the_emails_one_click_unsubscribe_works_as_before(api, link):
    response = api.post(f"/v1/self/{link}/opt-out?channel=email", headers={"content-type": FORM},
                        body="List-Unsubscribe=One-Click")
    assert response.status_code == 200 and header(response, "content-type") in (None, "application/json")
    assert json.loads(response.body)["opted_out_channels"] == ["email"]
    assert recorded() == ("active", {"email"}, ["opt_out"])
