"""The daily report's figures and charts (pure; SPEC §9).

From the KPI figures of one day (``kpis.service.report_figures``) this builds what the report's
template shows: the day's headline figures and five charts, each server-rendered inline SVG (no
script, no external asset, so the same HTML is a web page and the PDF's source):

- **aging distribution**: columns of accounts and of the amount owed by aging bucket, from the
  portfolio's level as the day's night started; each column's height is proportional to its value;
- **roll rates**: a bucket (row) to bucket (column) matrix of the accounts the night moved, each
  cell shaded by its share of the row's accounts at the start (red rolling forward, green back);
- **channel results**: attempts, deliveries and right-party contacts per channel, with the cost;
- **best hours**: a weekday x hour (7 x 24) heat map of right-party contacts over attempts of
  calls, visits and other contacts (a reminder never reaches the right party) over the weeks
  before the day, shaded relative to the best slot;
- **agent productivity**: visits done and verified per agent over the days before the day.

Every text that comes from data (an agent's name, a channel) is escaped here; the charts are
``Markup`` the template inserts as they are. Figures are the tenant's (days in its zone).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any, Mapping, Sequence

from markupsafe import Markup

from ..kpis.rules import REMINDER_CHANNELS

LOCALES = ("es-MX", "en")
#: The tallest column of a column chart and the longest bar of a bar chart, in px.
COLUMN_HEIGHT = 120
BAR_LENGTH = 360
#: The most agents the productivity chart lists (the busiest first; the rest are counted).
MAX_AGENTS = 40
#: Weeks of the best-hours heat map and days of the agents' chart (the day's included).
HOURS_DAYS = 28
AGENT_DAYS = 7

COLORS = {"accounts": "#2563eb", "owed": "#0f766e", "attempts": "#94a3b8", "delivered": "#2563eb",
          "rpc": "#16a34a", "done": "#6366f1", "verified": "#16a34a", "forward": "#b91c1c", "back": "#15803d",
          "hours": "#1d4ed8", "none": "#f1f5f9", "grid": "#cbd5e1", "text": "#1f2937", "muted": "#64748b"}
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"

LABELS: dict[str, dict[str, Any]] = {
    "es-MX": {
        "lang": "es", "title": "Reporte diario", "generated": "Generado", "currency": "Montos en",
        "summary": "Resumen del día", "figure": "Indicador", "value": "Valor",
        "amount_due_start": "Saldo al iniciar el día", "amount_recovered": "Monto recuperado",
        "recovery_rate": "Tasa de recuperación", "payments": "Pagos", "promises_made": "Promesas hechas",
        "promises_kept": "Promesas cumplidas", "promises_broken": "Promesas incumplidas",
        "attempts_total": "Intentos de contacto", "contact_rate": "Tasa de contacto efectivo",
        "visits_done": "Visitas hechas", "visits_verified": "Visitas verificadas", "cost_total": "Costo estimado",
        "cost_per_amount_recovered": "Costo por peso recuperado",
        "aging": "Distribución por antigüedad", "aging_note": "La cartera al iniciar la noche del {day}.",
        "aging_empty": "Sin nivel de cartera para este día: la noche no corrió.",
        "bucket": "Tramo", "accounts": "Cuentas", "owed": "Saldo", "total": "Total",
        "roll": "Tasas de rodamiento",
        "roll_note": ("Cuentas que la noche del {day} pasó de un tramo (fila) a otro (columna), y su parte de las "
                      "cuentas del tramo al iniciar; rojo: avanzan, verde: regresan."),
        "roll_from": "Desde \\ hacia", "roll_moved": "Cuentas que cambiaron de tramo",
        "channels": "Resultados por canal", "channel": "Canal", "attempts": "Intentos", "delivered": "Entregados",
        "rpc": "Contactos efectivos", "cost": "Costo", "channels_empty": "Sin intentos de contacto este día.",
        "hours": "Mejores horarios",
        "hours_note": ("Contactos efectivos sobre intentos de llamadas, visitas y otros contactos, por día y hora "
                       "del deudor, del {start} al {end}; más oscuro: mejor tasa."),
        "hours_best": "Mejores franjas", "hours_empty": "Sin intentos de llamada, visita u otro contacto en el periodo.",
        "agents": "Productividad de gestores",
        "agents_note": "Visitas hechas y verificadas por gestor del {start} al {end} (la tabla muestra también el día).",
        "agent": "Gestor", "done": "Hechas", "verified": "Verificadas", "day": "Día", "days": "{n} días",
        "agents_empty": "Ningún gestor registró visitas en el periodo.", "agents_more": "y {n} gestores más",
        "weekdays": ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"], "none": "—",
        "buckets": {"current": "Al corriente", "120+": "Más de 120"},
        "channel_names": {"email": "Correo", "sms": "SMS", "whatsapp": "WhatsApp", "call": "Llamada",
                          "field_visit": "Visita", "phone": "Teléfono", "in_person": "En persona", "letter": "Carta",
                          "other": "Otro"},
    },
    "en": {
        "lang": "en", "title": "Daily report", "generated": "Generated", "currency": "Amounts in",
        "summary": "The day at a glance", "figure": "Figure", "value": "Value",
        "amount_due_start": "Amount due at the start", "amount_recovered": "Amount recovered",
        "recovery_rate": "Recovery rate", "payments": "Payments", "promises_made": "Promises made",
        "promises_kept": "Promises kept", "promises_broken": "Promises broken",
        "attempts_total": "Contact attempts", "contact_rate": "Right-party contact rate",
        "visits_done": "Visits done", "visits_verified": "Visits verified", "cost_total": "Estimated cost",
        "cost_per_amount_recovered": "Cost per amount recovered",
        "aging": "Aging distribution", "aging_note": "The portfolio as the night of {day} started.",
        "aging_empty": "No portfolio level for this day: its night did not run.",
        "bucket": "Bucket", "accounts": "Accounts", "owed": "Owed", "total": "Total",
        "roll": "Roll rates",
        "roll_note": ("Accounts the night of {day} moved from one bucket (row) to another (column), and their share of "
                      "the row's accounts at the start; red: rolling forward, green: rolling back."),
        "roll_from": "From \\ to", "roll_moved": "Accounts that changed bucket",
        "channels": "Channel results", "channel": "Channel", "attempts": "Attempts", "delivered": "Delivered",
        "rpc": "Right-party contacts", "cost": "Cost", "channels_empty": "No contact attempts this day.",
        "hours": "Best hours",
        "hours_note": ("Right-party contacts over attempts of calls, visits and other contacts, by the debtor's weekday "
                       "and hour, from {start} to {end}; darker: a better rate."),
        "hours_best": "Best slots", "hours_empty": "No call, visit or other contact attempt in the period.",
        "agents": "Agent productivity",
        "agents_note": "Visits done and verified per agent from {start} to {end} (the table also shows the day).",
        "agent": "Agent", "done": "Done", "verified": "Verified", "day": "Day", "days": "{n} days",
        "agents_empty": "No agent recorded a visit in the period.", "agents_more": "and {n} more agents",
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "none": "—",
        "buckets": {"current": "Current", "120+": "Over 120"},
        "channel_names": {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp", "call": "Call",
                          "field_visit": "Field visit", "phone": "Phone", "in_person": "In person", "letter": "Letter",
                          "other": "Other"},
    },
}


def locale_of(policy: Mapping[str, Any]) -> str:
    """es-MX unless the policy asks for English (as the digest)."""
    return "en" if policy.get("locale") == "en" else "es-MX"


# ---------------------------------------------------------------- formatting
def esc(text: object) -> str:
    """Text safe inside an SVG/HTML element or a quoted attribute."""
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate: one decimal at most, no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def money(text: str | Decimal | None) -> str:
    """``"12345.6"`` as ``12,345.60`` (es-MX and en both group thousands with commas)."""
    if text is None:
        return "—"
    try:
        return f"{Decimal(str(text)):,.2f}"
    except InvalidOperation:
        return str(text)


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def count(value: int) -> str:
    return f"{value:,}"


# ---------------------------------------------------------------- SVG primitives
def _svg(width: float, height: float, label: str, body: Sequence[str]) -> Markup:
    chart = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{_n(width)}" height="{_n(height)}" '
             f'viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{esc(label)}" '
             f'font-family="{FONT}">' + "".join(body) + "</svg>")
    return Markup(chart)  # nosec B704  # every text in it went through esc() where it was built; numbers through _n()


def _text(x: float, y: float, content: str, *, size: int = 10, anchor: str = "start", fill: str = COLORS["text"],
          weight: str = "normal") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}">{esc(content)}</text>')


def _share(value: float, peak: float, length: float) -> float:
    """``value`` as a part of ``length`` proportional to the largest value, ``peak``."""
    return 0.0 if peak <= 0 or value <= 0 else value / peak * length


# ---------------------------------------------------------------- charts
def column_chart(labels: Sequence[str], values: Sequence[float], shown: Sequence[str], color: str, label: str) -> Markup:
    """Vertical columns (one per label), heights proportional to the values (the tallest
    ``COLUMN_HEIGHT``), each with its value above and its label below."""
    width, left, top, bottom = 320.0, 6.0, 18.0, 30.0
    slot = (width - 2 * left) / max(1, len(values))
    bar = slot * 0.62
    base = top + COLUMN_HEIGHT
    peak = max(values, default=0.0)
    body = [f'<line x1="{_n(left)}" y1="{_n(base)}" x2="{_n(width - left)}" y2="{_n(base)}" stroke="{COLORS["grid"]}"/>']
    for i, (name, value, text) in enumerate(zip(labels, values, shown)):
        height = _share(value, peak, COLUMN_HEIGHT)
        x = left + i * slot + (slot - bar) / 2
        body.append(f'<rect class="bar" x="{_n(x)}" y="{_n(base - height)}" width="{_n(bar)}" height="{_n(height)}" '
                    f'fill="{color}"><title>{esc(name)}: {esc(text)}</title></rect>')
        body.append(_text(x + bar / 2, base - height - 4, text, size=9, anchor="middle"))
        body.append(_text(x + bar / 2, base + 13, name, size=9, anchor="middle", fill=COLORS["muted"]))
    return _svg(width, base + bottom, label, body)


@dataclass(frozen=True)
class Series:
    """One kind of bar of a bar chart: its name, colour, values and the values as shown."""
    name: str
    color: str
    values: Sequence[float]
    shown: Sequence[str]


def bar_chart(categories: Sequence[str], series: Sequence[Series], label: str) -> Markup:
    """Horizontal bars, one group per category and one bar per series, lengths proportional to
    the largest value of every series (the longest ``BAR_LENGTH``); a legend on top."""
    left, bar, gap, legend = 150.0, 11.0, 10.0, 22.0
    width = left + BAR_LENGTH + 60
    group = bar * len(series) + gap
    peak = max((v for s in series for v in s.values), default=0.0)
    body: list[str] = []
    for k, s in enumerate(series):
        x = left + k * 140
        body.append(f'<rect x="{_n(x)}" y="4" width="10" height="10" fill="{s.color}"/>')
        body.append(_text(x + 14, 13, s.name, size=9))
    for i, name in enumerate(categories):
        y0 = legend + i * group
        body.append(_text(left - 6, y0 + bar * len(series) / 2 + 4, _clip(name, 26), size=10, anchor="end"))
        for k, s in enumerate(series):
            length = _share(s.values[i], peak, BAR_LENGTH)
            y = y0 + k * bar
            body.append(f'<rect class="bar" x="{_n(left)}" y="{_n(y)}" width="{_n(length)}" height="{_n(bar - 2)}" '
                        f'fill="{s.color}"><title>{esc(name)} - {esc(s.name)}: {esc(s.shown[i])}</title></rect>')
            body.append(_text(left + length + 4, y + bar - 3, s.shown[i], size=8, fill=COLORS["muted"]))
    body.append(f'<line x1="{_n(left)}" y1="{_n(legend - 2)}" x2="{_n(left)}" '
                f'y2="{_n(legend + len(categories) * group - gap + 2)}" stroke="{COLORS["grid"]}"/>')
    return _svg(width, legend + len(categories) * group, label, body)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


def _opacity(rate: float, peak: float) -> float:
    """A shade from 0.15 (the least) to 1 (the peak); 0 for nothing."""
    return 0.0 if rate <= 0 or peak <= 0 else round(0.15 + 0.85 * min(1.0, rate / peak), 2)


def roll_matrix(names: Sequence[str], moved: Sequence[Sequence[int]], rates: Sequence[Sequence[float | None]],
                at_start: Sequence[int], label: str, corner: str) -> Markup:
    """The bucket-to-bucket matrix: a row per bucket the accounts left (its accounts at the
    start under its name), a column per bucket they reached; a cell shows the accounts moved and
    their share of the row, shaded relative to the largest share (red forward, green back)."""
    cell_w, cell_h, head_w, head_h = 74.0, 34.0, 104.0, 26.0
    size = len(names)
    peak = max((r for row in rates for r in row if r is not None), default=0.0)
    body = [_text(4, 17, corner, size=9, fill=COLORS["muted"])]
    for j, name in enumerate(names):
        body.append(_text(head_w + j * cell_w + cell_w / 2, 17, name, size=9, anchor="middle", weight="bold"))
    for i, name in enumerate(names):
        y = head_h + i * cell_h
        body.append(_text(4, y + 15, name, size=9, weight="bold"))
        body.append(_text(4, y + 27, f"n={count(at_start[i])}", size=8, fill=COLORS["muted"]))
        for j in range(size):
            x = head_w + j * cell_w
            body.append(_roll_cell(x, y, cell_w, cell_h, i, j, moved[i][j], rates[i][j], peak))
    return _svg(head_w + size * cell_w + 2, head_h + size * cell_h + 2, label, body)


def _roll_cell(x: float, y: float, w: float, h: float, i: int, j: int, moved: int, rate: float | None, peak: float) -> str:
    if i == j:
        return (f'<rect class="cell" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{COLORS["none"]}" '
                f'stroke="#ffffff"/>' + _text(x + w / 2, y + h / 2 + 4, "·", size=10, anchor="middle", fill=COLORS["muted"]))
    color = COLORS["forward"] if j > i else COLORS["back"]
    # no accounts in the row's bucket at the start (no level that day): moves without a share
    shade = _opacity(rate, peak) if rate is not None else (0.35 if moved else 0.0)
    shown = f"{count(moved)} · {percent(rate)}" if moved else "0"
    ink = "#ffffff" if shade > 0.55 else COLORS["text"]
    return (f'<rect class="cell" data-from="{i}" data-to="{j}" x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
            f'fill="{color}" fill-opacity="{shade}" stroke="{COLORS["grid"]}" stroke-width="0.5">'
            f'<title>{esc(shown)}</title></rect>' + _text(x + w / 2, y + h / 2 + 4, shown, size=9, anchor="middle", fill=ink))


def heat_map(attempts: Sequence[Sequence[int]], reached: Sequence[Sequence[int]], weekdays: Sequence[str],
             label: str) -> Markup:
    """Weekdays (rows) x hours (columns): each cell shaded by its right-party rate relative to
    the best slot; a slot without attempts is left pale."""
    cell_w, cell_h, head_w, head_h = 21.0, 17.0, 34.0, 16.0
    rates = [[reached[w][h] / attempts[w][h] if attempts[w][h] else 0.0 for h in range(24)] for w in range(7)]
    peak = max((r for row in rates for r in row), default=0.0)
    body = [_text(head_w + h * cell_w + cell_w / 2, 11, f"{h:02d}", size=8, anchor="middle", fill=COLORS["muted"])
            for h in range(24)]
    for w in range(7):
        y = head_h + w * cell_h
        body.append(_text(2, y + 12, weekdays[w], size=9))
        for h in range(24):
            x, tried, got = head_w + h * cell_w, attempts[w][h], reached[w][h]
            fill, shade = (COLORS["hours"], max(0.06, _opacity(rates[w][h], peak))) if tried else (COLORS["none"], 1.0)
            tip = f"{weekdays[w]} {h:02d}:00 - {got}/{tried}" + (f" ({percent(rates[w][h])})" if tried else "")
            body.append(f'<rect class="cell" data-weekday="{w}" data-hour="{h}" x="{_n(x)}" y="{_n(y)}" '
                        f'width="{_n(cell_w - 1)}" height="{_n(cell_h - 1)}" fill="{fill}" fill-opacity="{shade}">'
                        f'<title>{esc(tip)}</title></rect>')
    return _svg(head_w + 24 * cell_w, head_h + 7 * cell_h, label, body)


# ---------------------------------------------------------------- the report
def contact_hours(best_hours: Mapping[str, Any]) -> tuple[list[list[int]], list[list[int]]]:
    """Attempts and right-party contacts by weekday and hour, every contact channel added up."""
    attempts = [[0] * 24 for _ in range(7)]
    reached = [[0] * 24 for _ in range(7)]
    for channel, matrix in best_hours.get("channels", {}).items():
        if channel in REMINDER_CHANNELS:
            continue
        for w in range(7):
            for h in range(24):
                attempts[w][h] += int(matrix["attempts"][w][h])
                reached[w][h] += int(matrix["right_party"][w][h])
    return attempts, reached


def best_slots(attempts: Sequence[Sequence[int]], reached: Sequence[Sequence[int]], top: int = 3
               ) -> list[tuple[int, int, int, int]]:
    """The ``top`` slots with right-party contacts, best rate first (then more attempts):
    (weekday, hour, right-party contacts, attempts)."""
    slots = [(w, h, reached[w][h], attempts[w][h]) for w in range(7) for h in range(24) if reached[w][h]]
    return sorted(slots, key=lambda s: (-s[2] / s[3], -s[3], s[0], s[1]))[:top]


def _headline(totals: Mapping[str, Any], t: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [
        (t["amount_due_start"], money(totals["amount_due_start"])), (t["amount_recovered"], money(totals["amount_recovered"])),
        (t["recovery_rate"], percent(totals["recovery_rate"])), (t["payments"], count(totals["payments"])),
        (t["attempts_total"], count(sum(totals["attempts"].values()))),
        (t["rpc"], count(sum(totals["right_party_contacts"].values()))), (t["contact_rate"], percent(totals["contact_rate"])),
        (t["promises_made"], count(totals["promises_made"])), (t["promises_kept"], count(totals["promises_kept"])),
        (t["promises_broken"], count(totals["promises_broken"])), (t["visits_done"], count(totals["visits_done"])),
        (t["visits_verified"], count(totals["visits_verified"])), (t["cost_total"], money(totals["cost_total"])),
    ]
    ratio = totals["cost_per_amount_recovered"]
    rows.append((t["cost_per_amount_recovered"], t["none"] if ratio is None else f"{ratio:.4f}"))
    return rows


def _bucket(name: str, t: Mapping[str, Any]) -> str:
    return str(t["buckets"].get(name, name))


def _aging(level: Mapping[str, Any] | None, t: Mapping[str, Any], day: str) -> dict[str, Any] | None:
    if level is None:
        return None
    names = [_bucket(b, t) for b in level["buckets"]]
    accounts = [int(n) for n in level["accounts"]]
    owed = [Decimal(str(v)) for v in level["owed"]]
    return {
        "note": t["aging_note"].format(day=day),
        "accounts_chart": column_chart(names, [float(n) for n in accounts], [count(n) for n in accounts],
                                       COLORS["accounts"], f"{t['aging']}: {t['accounts']}"),
        "owed_chart": column_chart(names, [float(v) for v in owed], [_short_money(v) for v in owed], COLORS["owed"],
                                   f"{t['aging']}: {t['owed']}"),
        "rows": [(name, count(n), money(v)) for name, n, v in zip(names, accounts, owed)],
        "total": (count(sum(accounts)), money(sum(owed, Decimal(0)))),
    }


def _short_money(value: Decimal) -> str:
    """A column's label: 1.2M, 35.4k, 950."""
    for limit, suffix in ((Decimal(1_000_000), "M"), (Decimal(1_000), "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}"


def _roll(rolls: Mapping[str, Any], t: Mapping[str, Any], day: str) -> dict[str, Any]:
    names = [_bucket(b, t) for b in rolls["buckets"]]
    moved = [[int(n) for n in row] for row in rolls["moved"]]
    return {"note": t["roll_note"].format(day=day), "moved": count(sum(sum(row) for row in moved)),
            "chart": roll_matrix(names, moved, rolls["rates"], rolls["accounts_at_start"], t["roll"], t["roll_from"])}


def _channels(totals: Mapping[str, Any], t: Mapping[str, Any]) -> dict[str, Any]:
    channels = list(totals["attempts"])
    names = [str(t["channel_names"].get(ch, ch)) for ch in channels]
    rows = [(name, count(totals["attempts"][ch]), count(totals["deliveries"].get(ch, 0)),
             count(totals["right_party_contacts"].get(ch, 0)), money(totals["cost"].get(ch, "0")))
            for name, ch in zip(names, channels)]
    if not channels:
        return {"chart": None, "rows": rows, "cost_total": money(totals["cost_total"])}
    series = [Series(t[kind], COLORS[kind], [float(totals[key].get(ch, 0)) for ch in channels],
                     [count(int(totals[key].get(ch, 0))) for ch in channels])
              for kind, key in (("attempts", "attempts"), ("delivered", "deliveries"), ("rpc", "right_party_contacts"))]
    return {"chart": bar_chart(names, series, t["channels"]), "rows": rows, "cost_total": money(totals["cost_total"])}


def _hours(best_hours: Mapping[str, Any], t: Mapping[str, Any], day: str) -> dict[str, Any]:
    attempts, reached = contact_hours(best_hours)
    weekdays = list(t["weekdays"])
    best = [f"{weekdays[w]} {h:02d}:00 - {percent(got / tried)} ({got}/{tried})"
            for w, h, got, tried in best_slots(attempts, reached)]
    return {"note": t["hours_note"].format(start=best_hours.get("from", day), end=day), "best": best,
            "empty": not any(any(row) for row in attempts), "chart": heat_map(attempts, reached, weekdays, t["hours"])}


def _agents(day_counts: Mapping[str, Mapping[str, int]], window: Mapping[str, Any], names: Mapping[str, str],
            t: Mapping[str, Any], day: str) -> dict[str, Any]:
    period = window.get("agents", {})
    ids = sorted(set(period) | set(day_counts),
                 key=lambda a: (-period.get(a, {}).get("done", 0), -day_counts.get(a, {}).get("done", 0), a))
    shown, more = ids[:MAX_AGENTS], max(0, len(ids) - MAX_AGENTS)
    labels = [names.get(a) or a for a in shown]
    rows = [(label, count(day_counts.get(a, {}).get("done", 0)), count(day_counts.get(a, {}).get("verified", 0)),
             count(period.get(a, {}).get("done", 0)), count(period.get(a, {}).get("verified", 0)))
            for label, a in zip(labels, shown)]
    result: dict[str, Any] = {"note": t["agents_note"].format(start=window.get("from", day), end=day), "rows": rows,
                              "more": t["agents_more"].format(n=more) if more else None, "chart": None,
                              "period": t["days"].format(n=AGENT_DAYS)}
    if shown:
        series = [Series(t[kind], COLORS[kind], [float(period.get(a, {}).get(kind, 0)) for a in shown],
                         [count(period.get(a, {}).get(kind, 0)) for a in shown]) for kind in ("done", "verified")]
        result["chart"] = bar_chart(labels, series, t["agents"])
    return result


def build_report(figures: Mapping[str, Any], *, lender: str, day: str, generated_at: str, currency: str, locale: str,
                 agent_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template's context: the day's headline figures and each chart's section."""
    t = LABELS.get(locale, LABELS["es-MX"])
    totals = figures["totals"]
    return {
        "t": t, "lang": t["lang"], "lender": lender, "day": day, "generated_at": generated_at, "currency": currency,
        "headline": _headline(totals, t),
        "aging": _aging(figures.get("level"), t, day),
        "roll": _roll(figures["roll_rates"], t, day),
        "channels": _channels(totals, t),
        "hours": _hours(figures["best_hours"], t, day),
        "agents": _agents(figures.get("agents", {}), figures.get("agents_window", {}), agent_names or {}, t, day),
    }
