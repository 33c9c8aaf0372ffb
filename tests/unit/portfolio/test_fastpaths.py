"""The contact fast paths never disagree with phonenumbers / email-validator, and decide the common shapes."""
import datetime as dt
import string

import email_validator
import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cobranza.portfolio import fastpaths
from cobranza.portfolio.fastpaths import fast_e164, fast_email
from infra.sample_data import iter_accounts

MANY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lib_e164(text, region="MX"):
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def lib_email(text):
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def assert_phone_agrees(text, region="MX"):
    fast = fast_e164(text, region)
    if fast is not None:
        assert fast == lib_e164(text, region), (text, region)
    return fast


def assert_email_agrees(text):
    fast = fast_email(text)
    if fast is not None:
        assert fast == lib_email(text), text
    return fast


# --------------------------------------------------------------------------------- phones
FAST_REGIONS = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if fastpaths._phone_rules(r))
SEP = st.sampled_from(["", "", " ", "-", ".", "  ", " - ", "/", "_", "\u00a0", "\uff0d"])
REAL_AREA = st.sampled_from(["55", "33", "81", "618", "644", "222", "999", "664", "477", "871", "800", "900", "300",
                             "500", "200", "201", "202"])
ODD_AREA = st.sampled_from(["100", "044", "045", "01", "1", "0"]) | st.text("0123456789", min_size=1, max_size=4)
PREFIX = st.sampled_from(["", "52", "52 ", "+52", "+52 ", "+ 52 ", "+52-", "(52)", "+(52) ", "+52.", "+52 - "])
ODD_PREFIX = st.sampled_from(["0052 ", "01", "01 ", "044 ", "045 ", "1", "+1 ", "+521 ", "521", "+", "++52", "52+", "0",
                              "+520", "tel:", "Tel. ", "(+52) ", "00", "09"])


@st.composite
def mx_phones(draw, odd=False):
    """Mexican numbers as lenders write them; with `odd`, also odd area codes, prefixes, lengths and suffixes."""
    area = draw(ODD_AREA | REAL_AREA if odd else REAL_AREA | st.from_regex(r"[2-9][0-9]{1,2}", fullmatch=True))
    rest_len = 10 - len(area) + (draw(st.integers(-3, 3)) if odd else 0)
    digits = "0123456789" + "０８٣" * odd                         # non-ASCII digits phonenumbers also reads
    rest = draw(st.text(digits, min_size=max(rest_len, 0), max_size=max(rest_len, 0)))
    split = draw(st.integers(0, len(rest)))
    sep1, sep2 = draw(SEP), draw(SEP)
    area_fmt = draw(st.sampled_from(["{}", "({})"] + ["({}", "{})"] * odd)).format(area)
    prefix = draw(PREFIX | ODD_PREFIX if odd else PREFIX)
    suffix = draw(st.sampled_from(["", " ", "-", ")", " ext 12", " x3", "#", ",", ";ext=1", "a"])) if odd else ""
    return draw(st.sampled_from(["", prefix])) + area_fmt + sep1 + rest[:split] + sep2 + rest[split:] + suffix


@MANY
@given(mx_phones() | mx_phones(odd=True))
@example("044 55 1234 5678")
@example("01 618 422 3788")
@example("+52 1 644 205 1990")
@example("5212345678")
@example("526442051990")
@example("0052 644 205 1990")
@example("+52 (618) 422-3788")
@example("６１８４２２３７８８")  # fullwidth digits: library accepts, fast path leaves it
@example("٦١٨٤٢٢٣٧٨٨")
@example("618 422 378８")
def test_phone_fast_path_agrees_on_near_valid_mexican_numbers(text):
    assert_phone_agrees(text)


@MANY
@given(st.text("0123456789 +-.()#x/,;", max_size=20))
def test_phone_fast_path_agrees_on_random_punctuated_digits(text):
    assert_phone_agrees(text)


@MANY
@given(st.text(max_size=20))
def test_phone_fast_path_agrees_on_arbitrary_text(text):
    assert_phone_agrees(text)


@MANY
@given(region=st.sampled_from(FAST_REGIONS), data=st.data())
def test_phone_fast_path_agrees_in_every_region_it_handles(region, data):
    rules = fastpaths._phone_rules(region)
    digits = st.text("0123456789", min_size=rules.length - 1, max_size=rules.length + 1)
    prefix = data.draw(st.sampled_from(["", "+", rules.cc, "+" + rules.cc, "+" + rules.cc + " ", "00", "0"]))
    assert_phone_agrees(prefix + data.draw(digits), region)


@pytest.mark.parametrize("region", FAST_REGIONS)
def test_phone_fast_path_decides_the_regions_example_numbers(region):
    cc = str(fastpaths._phone_rules(region).cc)
    decided = 0
    for kind in phonenumbers.supported_types_for_region(region):
        number = phonenumbers.example_number_for_type(region, kind)
        if number is None:
            continue
        nsn = phonenumbers.national_significant_number(number)
        for text in (nsn, "+" + cc + nsn, "+" + cc + " " + nsn):
            decided += assert_phone_agrees(text, region) is not None
    if region == "MX":
        assert decided >= 3 * 5


def test_phone_fast_path_leaves_unsupported_regions_to_the_library():
    for region in ("US", "GB", "AR", "BR", "mx", "XX", ""):
        assert fast_e164("6184223788", region) is None


@pytest.mark.parametrize("text", ["6184223788", "618 422 3788", "(618) 422-3788", "618-422-3788", "618.422.3788",
                                  "+52 644 205 1990", "+526442051990", "52 6442051990", "526442051990",
                                  "55 1234 5678", "(55) 1234-5678", "+52 55 1234 5678", "+52 (618) 422-3788",
                                  "8001234567", "2001234567"])
def test_phone_fast_path_decides_common_shapes(text):
    assert fast_e164(text, "MX") is not None
    assert fast_e164(text, "MX") == lib_e164(text)


@pytest.mark.parametrize("text", ["044 55 1234 5678", "045 55 1234 5678", "01 618 422 3788", "+52 1 644 205 1990",
                                  "5212345678", "1184223788", "0184223788", "+1 618 422 3788", "618 422 378",
                                  "618 422 37888", "618-422-3788 ext 5", "tel:+52-618-422-3788", "(+52) 6184223788"])
def test_phone_fast_path_is_undecided_on_unusual_or_invalid_shapes(text):
    assert fast_e164(text, "MX") is None


def test_phone_concrete_values():
    assert fast_e164("(618) 422-3788", "MX") == "+526184223788"
    assert fast_e164("+52 644 205 1990", "MX") == "+526442051990"
    assert fast_e164("52 6442051990", "MX") == "+526442051990"


# --------------------------------------------------------------------------------- emails
LOCAL_CHARS = string.ascii_letters + string.digits + "._%+-"
LABEL = st.text(string.ascii_letters + string.digits + "-", min_size=0, max_size=12) | st.sampled_from(
    ["gmail", "hotmail", "yahoo", "com", "a" * 63, "a" * 64, "-a", "a-", "a--b", "ab--cd", "xn--p1ai", "XN--P1AI",
     "Example", "1", "prodigy"])
TLD = st.sampled_from(["com", "mx", "COM", "Mx", "net", "org", "io", "local", "test", "invalid", "localhost", "onion",
                       "arpa", "LOCAL", "Test", "c0m", "123", "x", "", "xn--p1ai", "a" * 63, "a" * 64, "com-", "co_m"])
LOCAL = (st.text(LOCAL_CHARS, min_size=0, max_size=20)
         | st.text(LOCAL_CHARS + "!#$&'*/=?^`{|}~\"\\ @<>", max_size=10)
         | st.sampled_from(["Postmaster", "INFO", "info", "Abuse", "webmaster", "x" * 64, "x" * 65, "a.b", ".a", "a.",
                            "a..b", "juan.perez", "Juan_Perez99", "a+tag", "100%", "-", "_"]))


@st.composite
def near_valid_emails(draw):
    labels = draw(st.lists(LABEL, min_size=0, max_size=4))
    domain = ".".join([*labels, draw(TLD)])
    domain = draw(st.sampled_from(["{}", "{}", "{}", ".{}", "{}.", "{}..", "{}\n"])).format(domain)
    if draw(st.booleans()):
        domain = domain.upper()
    at = draw(st.sampled_from(["@", "@", "@", "@@", "", "＠"]))
    return draw(LOCAL) + at + domain


@st.composite
def long_emails(draw):
    """Addresses around the 64 / 63 / 253 / 254 length limits."""
    local = "a" * draw(st.integers(1, 70))
    labels = [("b" * draw(st.integers(1, 64))) for _ in range(draw(st.integers(1, 5)))]
    return local + "@" + ".".join(labels) + ".com"


@MANY
@given(near_valid_emails() | long_emails())
@example("Juan.Perez@GMail.COM")
@example("Postmaster@Example.COM")
@example("a@sub.example.local")
@example("a@localhost.mx")
@example("a@mail.localhost")
@example("a@b.c")
@example("a@xn--p1ai.com")
@example("a@ab--cd.com")
@example("a@1.2.com")
@example("a@b.com\n")
def test_email_fast_path_agrees_on_near_valid_addresses(text):
    assert_email_agrees(text)


@MANY
@given(st.emails() | st.text(max_size=30) | st.text(LOCAL_CHARS + "@.", max_size=30))
def test_email_fast_path_agrees_on_generated_and_arbitrary_text(text):
    assert_email_agrees(text)


def test_email_fast_path_follows_the_librarys_lists_when_changed_at_runtime(monkeypatch):
    assert fast_email("juan@gmail.com") == "juan@gmail.com"
    monkeypatch.setattr(email_validator, "SPECIAL_USE_DOMAIN_NAMES",
                        [*email_validator.SPECIAL_USE_DOMAIN_NAMES, "gmail.com"])
    assert fast_email("juan@gmail.com") is None and lib_email("juan@gmail.com") is None
    assert fast_email("juan@mail.gmail.com") is None and lib_email("juan@mail.gmail.com") is None
    email_validator.SPECIAL_USE_DOMAIN_NAMES.remove("gmail.com")          # mutated in place this time
    assert fast_email("juan@gmail.com") == "juan@gmail.com"
    monkeypatch.setattr(fastpaths._validate_email_module, "CASE_INSENSITIVE_MAILBOX_NAMES", ["juan"])
    assert fast_email("Juan@gmail.com") == lib_email("Juan@gmail.com") == "juan@gmail.com"


@pytest.mark.parametrize("text", ["juan.ruiz@yahoo.com.mx", "jorge_ruiz29@outlook.es", "Juan.Perez@GMail.COM",
                                  "a+tag@sub.domain.mx", "x-y_z%1@prodigy.net.mx", "info@empresa.mx"])
def test_email_fast_path_decides_common_shapes(text):
    assert fast_email(text) is not None
    assert fast_email(text) == lib_email(text)


@pytest.mark.parametrize("text", ["a@localhost", "a@x.local", "a@x.test", "a@x.invalid", "a@x.onion", "a@x.arpa",
                                  "a..b@x.com", ".a@x.com", "a.@x.com", "a@-x.com", "a@x-.com", "a@x.c0m",
                                  "a@xn--p1ai.com", "José@x.com", "a@bücher.de", '"a b"@x.com', "a@[1.2.3.4]",
                                  "Juan <a@x.com>", "a@x", "a@x.com.", "x" * 65 + "@x.com"])
def test_email_fast_path_is_undecided_on_unusual_or_invalid_shapes(text):
    assert fast_email(text) is None


def test_email_concrete_values():
    assert fast_email("Juan.Perez@GMail.COM") == "Juan.Perez@gmail.com"
    assert fast_email("POSTMASTER@Empresa.MX") == "postmaster@empresa.mx"


# --------------------------------------------------------------------------- generated portfolio
def test_fast_paths_decide_and_agree_on_the_sample_portfolio():
    rows = list(iter_accounts(5000, seed=7, as_of=dt.date(2026, 11, 23)))
    phones = [row["phone"] for row in rows if row["phone"]]
    emails = [row["email"] for row in rows if row["email"]]
    assert len(phones) > 4000 and len(emails) > 4000
    fast_phones = [fast_e164(text, "MX") for text in phones]
    fast_emails = [fast_email(text) for text in emails]
    assert sum(value is not None for value in fast_phones) >= 0.95 * len(phones)
    assert sum(value is not None for value in fast_emails) >= 0.95 * len(emails)
    for text, fast in zip(phones, fast_phones):
        if fast is not None:
            assert fast == lib_e164(text), text
    for text, fast in zip(emails, fast_emails):
        if fast is not None:
            assert fast == lib_email(text), text
