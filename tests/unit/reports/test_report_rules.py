"""SPEC §9: the daily report's figures and charts (reports.rules) from known KPI figures: columns
and bars proportional to their values, the roll-rate matrix's cells, the best-hours heat map,
agent productivity, escaping of everything that comes from data, the language, and the HTML page
built from them (reports.render, no network)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest

from cobranza.kpis import rules as kpi_rules
from cobranza.reports import render, rules

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 11, 23)  # a Monday


def item(day, segment, counters):
    return {"kpi_key": f"t-1#{day[:7]}", "item_key": kpi_rules.day_item_key(day, segment),
            **{name: Decimal(str(value)) for name, value in counters.items()}}


COUNTERS = {
    "attempts.email": 40, "delivered.email": 38, "hour.email.0_08.a": 40,  # reminders: never a right party
    "attempts.phone": 12, "rpc.phone": 5, "hour.phone.0_09.a": 6, "hour.phone.0_09.r": 3,
    "hour.phone.0_17.a": 6, "hour.phone.0_17.r": 2,
    "payments": 3, "recovered": "4500.50", "promises_made": 2, "visits_done": 5, "visits_verified": 4,
    "visit_agent.ag-1": 3, "visit_agent_verified.ag-1": 3, "visit_agent.ag-2": 2, "visit_agent_verified.ag-2": 1,
    "roll.1-30>31-60": 4, "roll.31-60>1-30": 1, "roll.current>1-30": 10,
}
LEVEL = {"n.general.current": 100, "n.general.1-30": 40, "n.general.31-60": 20,
         "owed.general.current": "100000", "owed.general.1-30": "50000", "owed.general.31-60": "30000"}
PRICES = {"email": 0.01, "call": 2, "field_visit": 50}


def figures(items, day=DAY):
    """What kpis.service.report_figures returns, from items in memory."""
    the_day = kpi_rules.add_up(items, day, day, None)
    window = kpi_rules.add_up(items, date(2026, 10, 27), day, None)
    week = kpi_rules.add_up(items, date(2026, 11, 17), day, None)
    return {"totals": kpi_rules.summarise(the_day, PRICES), "roll_rates": kpi_rules.roll_rates(the_day),
            "level": kpi_rules.level_by_bucket(the_day), "agents": kpi_rules.visits_by_agent(the_day),
            "best_hours": {**kpi_rules.best_hours(window), "from": "2026-10-27"},
            "agents_window": {"from": "2026-11-17", "agents": kpi_rules.visits_by_agent(week)}}


@pytest.fixture
def day_figures():
    return figures([item("2026-11-23", "general", COUNTERS), item("2026-11-23", kpi_rules.LEVEL_SEGMENT, LEVEL),
                    item("2026-11-20", "general", {"visit_agent.ag-1": 4, "visit_agent_verified.ag-1": 2})])


def report(day_figures, locale="es-MX", names=None, lender="Financiera Acme"):
    return rules.build_report(day_figures, lender=lender, day="2026-11-23", generated_at="2026-11-24 08:05",
                              currency="MXN", locale=locale, agent_names=names or {})


def svg(markup):
    return ET.fromstring(str(markup))


def bars(markup):
    return [r for r in svg(markup).iter(f"{SVG}rect") if r.get("class") == "bar"]


# ---------------------------------------------------------------- the KPI figures the report reads
def test_the_level_by_bucket_and_the_visits_per_agent_come_from_the_counters(day_figures):
    assert day_figures["level"] == {"buckets": ["current", "1-30", "31-60", "61-90", "91-120", "120+"],
                                    "accounts": [100, 40, 20, 0, 0, 0],
                                    "owed": ["100000.00", "50000.00", "30000.00", "0.00", "0.00", "0.00"]}
    assert day_figures["agents"] == {"ag-1": {"done": 3, "verified": 3}, "ag-2": {"done": 2, "verified": 1}}
    assert day_figures["agents_window"]["agents"]["ag-1"] == {"done": 7, "verified": 5}
    assert kpi_rules.level_by_bucket({}) is None  # before the tenant's first night


# ---------------------------------------------------------------- charts
def test_column_heights_are_proportional_to_the_values():
    chart = rules.column_chart(["a", "b", "c", "d"], [10.0, 20.0, 5.0, 0.0], ["10", "20", "5", "0"], "#000", "x")
    heights = [float(r.get("height")) for r in bars(chart)]
    assert heights == [rules.COLUMN_HEIGHT / 2, rules.COLUMN_HEIGHT, rules.COLUMN_HEIGHT / 4, 0.0]
    # every column stands on the same baseline
    assert len({float(r.get("y")) + float(r.get("height")) for r in bars(chart)}) == 1
    assert [float(r.get("height")) for r in bars(rules.column_chart(["a"], [0.0], ["0"], "#000", "x"))] == [0.0]


def test_the_aging_columns_are_the_accounts_and_the_amount_owed_by_bucket(day_figures):
    aging = report(day_figures)["aging"]
    accounts = [float(r.get("height")) for r in bars(aging["accounts_chart"])]
    owed = [float(r.get("height")) for r in bars(aging["owed_chart"])]
    assert accounts == [rules.COLUMN_HEIGHT, 48.0, 24.0, 0.0, 0.0, 0.0]  # 100 : 40 : 20
    assert owed == [rules.COLUMN_HEIGHT, 60.0, 36.0, 0.0, 0.0, 0.0]  # 100,000 : 50,000 : 30,000
    assert aging["rows"][0] == ("Al corriente", "100", "100,000.00") and aging["total"] == ("160", "180,000.00")


def test_bar_lengths_are_proportional_across_every_series(day_figures):
    channels = report(day_figures)["channels"]
    lengths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bars(channels["chart"])}
    assert lengths["Correo - Intentos: 40"] == rules.BAR_LENGTH
    assert lengths["Correo - Entregados: 38"] == pytest.approx(rules.BAR_LENGTH * 38 / 40, abs=0.05)
    assert lengths["Teléfono - Contactos efectivos: 5"] == pytest.approx(rules.BAR_LENGTH * 5 / 40, abs=0.05)
    assert channels["rows"] == [("Correo", "40", "38", "0", "0.40"), ("Teléfono", "12", "0", "5", "24.00")]
    assert channels["cost_total"] == "24.40"


def test_the_roll_matrix_has_a_cell_per_pair_of_buckets_shaded_by_its_share(day_figures):
    roll = report(day_figures)["roll"]
    cells = [r for r in svg(roll["chart"]).iter(f"{SVG}rect") if r.get("class") == "cell"]
    assert len(cells) == 36
    moved = {(int(c.get("data-from")), int(c.get("data-to"))): c for c in cells if c.get("data-from") is not None}
    assert len(moved) == 30  # the diagonal is no move
    forward, back, current = moved[(1, 2)], moved[(2, 1)], moved[(0, 1)]  # 1-30 -> 31-60, back, current -> 1-30
    assert forward.find(f"{SVG}title").text == "4 · 10.0%" and forward.get("fill") == rules.COLORS["forward"]
    assert back.find(f"{SVG}title").text == "1 · 5.0%" and back.get("fill") == rules.COLORS["back"]
    assert current.find(f"{SVG}title").text == "10 · 10.0%"
    assert float(forward.get("fill-opacity")) == 1.0 and float(back.get("fill-opacity")) == pytest.approx(0.575, abs=0.01)
    assert float(moved[(3, 4)].get("fill-opacity")) == 0.0  # nothing moved
    assert roll["moved"] == "15"


def test_the_heat_map_is_seven_by_twenty_four_and_leaves_reminders_out(day_figures):
    hours = report(day_figures)["hours"]
    cells = {(int(c.get("data-weekday")), int(c.get("data-hour"))): c
             for c in svg(hours["chart"]).iter(f"{SVG}rect") if c.get("class") == "cell"}
    assert len(cells) == 7 * 24
    assert float(cells[(0, 9)].get("fill-opacity")) == 1.0  # 3 of 6: the best slot
    assert float(cells[(0, 17)].get("fill-opacity")) == pytest.approx(0.72)  # 2 of 6
    assert cells[(0, 8)].get("fill") == rules.COLORS["none"]  # the emails' hour: no contact attempt
    assert hours["best"] == ["lun 09:00 - 50.0% (3/6)", "lun 17:00 - 33.3% (2/6)"] and not hours["empty"]


def test_the_best_slots_are_the_best_rates_then_the_most_attempts():
    attempts = [[0] * 24 for _ in range(7)]
    reached = [[0] * 24 for _ in range(7)]
    for (w, h), (a, r) in {(1, 10): (10, 5), (2, 11): (2, 1), (3, 12): (4, 4), (4, 13): (5, 0)}.items():
        attempts[w][h], reached[w][h] = a, r
    assert rules.best_slots(attempts, reached) == [(3, 12, 4, 4), (1, 10, 5, 10), (2, 11, 1, 2)]


def test_agent_productivity_lists_the_week_s_visits_done_and_verified_with_the_day_s(day_figures):
    agents = report(day_figures, names={"ag-1": "Ana Gestora"})["agents"]
    assert agents["rows"] == [("Ana Gestora", "3", "3", "7", "5"), ("ag-2", "2", "1", "2", "1")]
    lengths = {r.find(f"{SVG}title").text: float(r.get("width")) for r in bars(agents["chart"])}
    assert lengths["Ana Gestora - Hechas: 7"] == rules.BAR_LENGTH
    assert lengths["ag-2 - Verificadas: 1"] == pytest.approx(rules.BAR_LENGTH / 7, abs=0.05)


def test_more_agents_than_the_chart_holds_are_counted_not_drawn():
    counters = {f"visit_agent.ag-{i:03d}": 1 + i for i in range(rules.MAX_AGENTS + 5)}
    agents = report(figures([item("2026-11-23", "general", counters)]))["agents"]
    assert len(agents["rows"]) == rules.MAX_AGENTS and agents["more"] == "y 5 gestores más"
    assert agents["rows"][0][0] == f"ag-{rules.MAX_AGENTS + 4:03d}"  # the busiest first


# ---------------------------------------------------------------- escaping, language, the page
def test_everything_from_data_is_escaped_in_the_charts_and_the_page(day_figures):
    hostile = '<script>alert("x")</script>'
    context = report(day_figures, names={"ag-1": hostile}, lender='Acme <b>"&"</b>')
    chart = str(context["agents"]["chart"])
    assert "<script>" not in chart and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in chart
    svg(chart)  # still well-formed
    page = render.html(context)
    assert "<script" not in page and "<b>" not in page
    assert "Acme &lt;b&gt;&#34;&amp;&#34;&lt;/b&gt;" in page and "&lt;script&gt;" in page


def test_the_page_holds_every_section_and_the_day_s_figures_in_spanish_or_english(day_figures):
    page = render.html(report(day_figures))
    assert '<html lang="es">' in page and "Reporte diario · 2026-11-23" in page
    for section in ("summary", "aging", "roll-rates", "channels", "best-hours", "agents"):
        assert f'<section id="{section}">' in page
    assert page.count("<svg") == 6  # two aging columns, the matrix, channels, heat map, agents
    for figure in ("180,000.00", "4,500.50", "2.5%", "41.7%", "24.40"):
        assert figure in page
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    english = render.html(report(day_figures, locale="en"))
    assert '<html lang="en">' in english and "Daily report · 2026-11-23" in english and "Roll rates" in english
    assert rules.locale_of({"locale": "en"}) == "en" and rules.locale_of({}) == "es-MX"


def test_a_quiet_day_before_any_night_still_makes_a_report():
    context = report(figures([]))
    assert context["aging"] is None and context["channels"]["chart"] is None and context["agents"]["chart"] is None
    assert context["hours"]["empty"] and context["roll"]["moved"] == "0"
    page = render.html(context)
    for message in ("Sin nivel de cartera", "Sin intentos de contacto este día", "Ningún gestor registró visitas"):
        assert message in page
