"""Tests of the seeded sample-portfolio generator (infra/sample_data.py). Fast, no network."""

from __future__ import annotations

import collections.abc
import csv
import datetime as dt
import gzip
import io
import json
import math
import re
import tracemalloc

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from openpyxl import load_workbook

from infra import sample_data as sd
from infra.sample_data import BANK_COLUMNS, CITIES, COLUMNS, iter_accounts, iter_rows, write_portfolio

AS_OF = dt.date(2026, 11, 23)
N = 600


@pytest.fixture(scope="module")
def accounts() -> list[dict[str, str]]:
    return list(iter_accounts(N, seed=7, as_of=AS_OF))


@pytest.fixture(scope="module")
def big() -> list[dict[str, str]]:
    return list(iter_accounts(20_000, seed=3, as_of=AS_OF))


def _bucket(days_past_due: int) -> str:
    for upper, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (120, "91-120")):
        if days_past_due <= upper:
            return name
    return "120+"


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


_CITY = {(c.name, c.state): c for c in CITIES}


# ------------------------------------------------------------------ determinism and shape


def test_same_seed_same_rows_other_seed_other_rows():
    a = list(iter_rows(300, seed=11, as_of=AS_OF))
    assert a == list(iter_rows(300, seed=11, as_of=AS_OF))
    assert a != list(iter_rows(300, seed=12, as_of=AS_OF))


def test_rows_are_prefix_stable():
    assert list(iter_rows(50, seed=5, as_of=AS_OF)) == list(iter_rows(400, seed=5, as_of=AS_OF))[:50]


def test_global_random_state_is_untouched():
    import random

    random.seed(99)
    expected = random.random()
    random.seed(99)
    list(iter_rows(100, seed=1, as_of=AS_OF))
    assert random.random() == expected


def test_written_files_are_byte_reproducible(tmp_path):
    for fmt, name in (("csv", "a.csv"), ("csv-cp1252", "b.csv"), ("csv.gz", "c.csv.gz")):
        first = write_portfolio(tmp_path / f"1{name}", 200, seed=9, as_of=AS_OF, fmt=fmt)
        write_portfolio(tmp_path / f"2{name}", 200, seed=9, as_of=AS_OF, fmt=fmt)
        assert (tmp_path / f"1{name}").read_bytes() == (tmp_path / f"2{name}").read_bytes()
        assert first["bytes"] == (tmp_path / f"1{name}").stat().st_size


def test_dict_keys_and_value_types(accounts):
    for account in accounts:
        assert tuple(account) == COLUMNS
        assert all(isinstance(v, str) for v in account.values())
        assert account["currency"] == "MXN"
        assert account["debtor_name"].strip() and account["city"] and account["state"]


def test_unique_account_ids_and_references(big):
    ids = [a["account_id"] for a in big]
    refs = [a["payment_reference"] for a in big]
    assert len(set(ids)) == len(ids)
    assert len(set(refs)) == len(refs)
    assert ids[:2] == ["A-1", "A-2"]
    assert all(re.fullmatch(r"\d{12}", r) for r in refs)


def test_tenant_prefix_and_start():
    rows = list(iter_accounts(3, seed=1, as_of=AS_OF, tenant_prefix="DEMO-", start=500))
    assert [r["account_id"] for r in rows] == ["DEMO-500", "DEMO-501", "DEMO-502"]


# ------------------------------------------------------------------ realism


def test_every_aging_bucket_is_represented(accounts):
    counts = {name: 0 for name in sd.BUCKETS}
    for account in accounts:
        dpd = (AS_OF - dt.date.fromisoformat(account["due_date"])).days
        counts[_bucket(dpd)] += 1
        assert sd.aging_bucket(dpd) == _bucket(dpd)
    assert all(counts[name] >= 5 for name in sd.BUCKETS), counts


def test_every_bucket_even_in_a_tiny_file():
    buckets = {_bucket((AS_OF - dt.date.fromisoformat(a["due_date"])).days)
               for a in iter_accounts(6, seed=123, as_of=AS_OF)}
    assert buckets == set(sd.BUCKETS)


def test_all_32_states(big):
    assert len({c.state for c in CITIES}) == 32 == len(sd.STATES)
    assert {c.state for c in CITIES} == set(sd.STATES)
    assert {a["state"] for a in big} == set(sd.STATES)


def test_big_metros_dominate(big):
    by_state: dict[str, int] = {}
    for a in big:
        by_state[a["state"]] = by_state.get(a["state"], 0) + 1
    top = sorted(by_state, key=by_state.get, reverse=True)[:4]  # type: ignore[arg-type]
    assert "Ciudad de México" in top and "Jalisco" in top
    assert by_state["Ciudad de México"] > 10 * by_state["Tlaxcala"]


def test_coordinates_in_mexico_and_near_their_city(big):
    missing = 0
    for a in big:
        assert (a["lat"] == "") == (a["lon"] == ""), a  # both or neither
        if not a["lat"]:
            missing += 1
            continue
        lat, lon = float(a["lat"]), float(a["lon"])
        assert 14.5 <= lat <= 32.72 and -117.13 <= lon <= -86.7, a
        city = _CITY[(a["city"], a["state"])]
        nearest = min(_km(lat, lon, c_lat, c_lon) for _, _, c_lat, c_lon in city.colonias)
        assert nearest < 0.5, (a, nearest)  # within a few hundred metres of a real point
        assert _km(lat, lon, city.lat, city.lon) < 25, a
    assert 0.03 < missing / len(big) < 0.07


def test_postal_codes_belong_to_the_city(big):
    for a in big[:3000]:
        city = _CITY[(a["city"], a["state"])]
        assert re.fullmatch(r"\d{5}", a["postal_code"])
        assert a["postal_code"] in {cp for _, cp, _, _ in city.colonias}
        assert a["postal_code"][:2] == city.colonias[0][1][:2]


def test_phones_are_valid_mexican_numbers_with_the_city_area_code(big):
    missing = 0
    styles = set()
    for a in big[:5000]:
        if not a["phone"]:
            missing += 1
            assert a["whatsapp_opt_in"] == "no"
            continue
        number = phonenumbers.parse(a["phone"], "MX")
        assert phonenumbers.is_valid_number_for_region(number, "MX"), a["phone"]
        national = str(number.national_number)
        assert len(national) == 10
        assert national.startswith(_CITY[(a["city"], a["state"])].lada), a
        styles.add(re.sub(r"\d", "9", a["phone"]))
    assert {"99 9999 9999", "9999999999", "+99 99 9999 9999", "999 999 9999", "(999) 999-9999"} <= styles
    assert 0.01 < missing / 5000 < 0.05


def test_area_codes_match_known_cities():
    lada = {(c.name, c.state): c.lada for c in CITIES}
    assert lada[("Cuauhtémoc", "Ciudad de México")] == "55"
    assert lada[("Guadalajara", "Jalisco")] == "33"
    assert lada[("Monterrey", "Nuevo León")] == "81"
    assert lada[("Tijuana", "Baja California")] == "664"
    assert lada[("Cancún", "Quintana Roo")] == "998"
    assert lada[("Mérida", "Yucatán")] == "999"


def test_emails_are_valid(accounts):
    missing = 0
    for a in accounts:
        if not a["email"]:
            missing += 1
            continue
        try:
            validate_email(a["email"], check_deliverability=False)
        except EmailNotValidError as exc:  # pragma: no cover - the assertion message
            pytest.fail(f"{a['email']}: {exc}")
    assert 0.04 < missing / len(accounts) < 0.18


def test_email_domain_override():
    emails = [a["email"] for a in iter_accounts(200, seed=2, as_of=AS_OF, email_domains=["example.com"])]
    assert all(e.endswith("@example.com") for e in emails if e)


def test_names_have_accents_and_enye(big):
    names = " ".join(a["debtor_name"] for a in big[:2000])
    assert re.search(r"[áéíóú]", names) and "ñ" in names
    assert all(len(a["debtor_name"].split()) >= 2 for a in big)


def test_money(big):
    balances = []
    for a in big:
        assert re.fullmatch(r"\d+\.\d\d", a["balance"]) and re.fullmatch(r"\d+\.00", a["original_amount"])
        balance, original = float(a["balance"]), float(a["original_amount"])
        assert 0 < balance <= original
        balances.append(balance)
    balances.sort()
    median = balances[len(balances) // 2]
    assert 3_000 < median < 30_000
    assert balances[-1] > 10 * median  # a long tail of large balances
    assert sum(b < 5_000 for b in balances) > len(balances) * 0.15  # many small (tier low)
    assert sum(not a["balance"].endswith(".00") for a in big) > len(big) * 0.9  # centavos
    assert {a["product"] for a in big} == {p[0] for p in sd.PRODUCTS}


def test_whatsapp_flag(big):
    assert {a["whatsapp_opt_in"] for a in big} == {"si", "no"}


# ------------------------------------------------------------------ formats


def test_csv_round_trip(tmp_path):
    path = tmp_path / "cartera.csv"
    summary = write_portfolio(path, 150, seed=4, as_of=AS_OF)
    assert summary["rows"] == 150 and summary["format"] == "csv" and summary["bytes"] == path.stat().st_size
    with path.open(encoding="utf-8", newline="") as f:
        read = list(csv.DictReader(f))
    assert read == list(iter_accounts(150, seed=4, as_of=AS_OF))


def test_csv_gz_round_trip(tmp_path):
    plain, zipped = tmp_path / "c.csv", tmp_path / "c.csv.gz"
    write_portfolio(plain, 300, seed=8, as_of=AS_OF, fmt="csv")
    summary = write_portfolio(zipped, 300, seed=8, as_of=AS_OF)  # format inferred from the name
    assert summary["format"] == "csv.gz"
    assert gzip.decompress(zipped.read_bytes()) == plain.read_bytes()


def test_cp1252_bank_variant(tmp_path):
    path = tmp_path / "banco.csv"
    write_portfolio(path, 300, seed=6, as_of=AS_OF, fmt="csv-cp1252")
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # accents are single cp1252 bytes, not UTF-8
    text = raw.decode("cp1252")  # strict
    lines = text.split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines)
    header = lines[0].split(";")
    assert header == [h for h, _ in BANK_COLUMNS]
    assert header[:4] == ["No. Crédito", "Nombre del Acreditado", "Saldo Total", "Fecha de Vencimiento"]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))[1:]
    canonical = list(iter_accounts(300, seed=6, as_of=AS_OF))
    assert len(rows) == 300
    for row, account in zip(rows, canonical):
        assert len(row) == len(BANK_COLUMNS)
        values = dict(zip((f for _, f in BANK_COLUMNS), row))
        assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d\d", values["balance"])
        assert float(values["balance"].replace(".", "").replace(",", ".")) == float(account["balance"])
        assert dt.datetime.strptime(values["due_date"], "%d/%m/%Y").date().isoformat() == account["due_date"]
        for field in ("account_id", "debtor_name", "phone", "email", "address", "city", "state",
                      "postal_code", "lat", "lon", "product", "payment_reference"):
            assert values[field] == account[field]


def test_xlsx_readable_read_only(tmp_path):
    path = tmp_path / "cartera.xlsx"
    summary = write_portfolio(path, 120, seed=5, as_of=AS_OF, fmt="xlsx")
    assert summary["bytes"] == path.stat().st_size
    wb = load_workbook(path, read_only=True)
    try:
        rows = list(wb.active.iter_rows(values_only=True))
    finally:
        wb.close()
    assert rows[0] == COLUMNS and len(rows) == 121
    canonical = list(iter_accounts(120, seed=5, as_of=AS_OF))
    for row, account in zip(rows[1:], canonical):
        assert row[0] == account["account_id"]
        assert row[2] == pytest.approx(float(account["balance"]))
        assert row[3].date().isoformat() == account["due_date"]
        assert row[10] == account["postal_code"]  # text: keeps leading zeros such as 06700


def test_write_to_a_binary_file_object():
    buffer = io.BytesIO()
    summary = write_portfolio(buffer, 50, seed=1, as_of=AS_OF, fmt="csv.gz")
    assert summary["bytes"] == len(buffer.getvalue())
    assert gzip.decompress(buffer.getvalue()).decode().count("\n") == 51


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        write_portfolio(tmp_path / "x.csv", 1, fmt="parquet")


# ------------------------------------------------------------------ streaming


def test_api_returns_lazy_iterators():
    huge = 10**12  # would never fit in memory as a list
    for stream in (iter_accounts(huge, seed=1, as_of=AS_OF), iter_rows(huge, seed=1, as_of=AS_OF)):
        assert isinstance(stream, collections.abc.Iterator) and iter(stream) is stream
        assert not isinstance(stream, (list, tuple))
        next(stream)
        next(stream)


def test_writing_does_not_grow_with_rows(tmp_path):
    def peak(rows: int) -> int:
        tracemalloc.start()
        try:
            write_portfolio(tmp_path / f"m{rows}.csv", rows, seed=1, as_of=AS_OF)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(300), peak(3_000)
    # 3,000 rows held as tuples of strings would take over 2 MB more; the 1 MB write buffer is fixed.
    assert large < 1.6 * 1024 * 1024
    assert large < small + 256 * 1024


# ------------------------------------------------------------------ CLI


def test_cli_prints_one_json_line(tmp_path, capsys):
    out = tmp_path / "sub" / "cartera.csv.gz"
    assert sd.main(["--rows", "25", "--seed", "3", "--as-of", "2026-11-23", "--format", "csv.gz",
                    "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("\n") == 1
    summary = json.loads(stdout)
    assert summary["path"] == str(out) and summary["rows"] == 25
    assert summary["bytes"] == out.stat().st_size
    assert summary["as_of"] == "2026-11-23"


def test_cli_rejects_a_bad_date(capsys):
    with pytest.raises(SystemExit):
        sd.main(["--rows", "1", "--as-of", "23/11/2026"])
