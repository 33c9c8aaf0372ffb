"""Mexican states and their IANA time zones (the state's main zone).

Quintana Roo (UTC-5, no DST), Sonora (UTC-7, no DST), Baja California (Pacific, with US DST),
Baja California Sur, Sinaloa and Nayarit (UTC-7) keep their own time; the rest follow the
centre (UTC-6, no DST since 2022) with their regional zone names.
"""
from __future__ import annotations

from .text import normalize_key

STATE_TIMEZONES: dict[str, str] = {
    "Aguascalientes": "America/Mexico_City",
    "Baja California": "America/Tijuana",
    "Baja California Sur": "America/Mazatlan",
    "Campeche": "America/Merida",
    "Chiapas": "America/Mexico_City",
    "Chihuahua": "America/Chihuahua",
    "Ciudad de México": "America/Mexico_City",
    "Coahuila": "America/Monterrey",
    "Colima": "America/Mexico_City",
    "Durango": "America/Monterrey",
    "Guanajuato": "America/Mexico_City",
    "Guerrero": "America/Mexico_City",
    "Hidalgo": "America/Mexico_City",
    "Jalisco": "America/Mexico_City",
    "Estado de México": "America/Mexico_City",
    "Michoacán": "America/Mexico_City",
    "Morelos": "America/Mexico_City",
    "Nayarit": "America/Mazatlan",
    "Nuevo León": "America/Monterrey",
    "Oaxaca": "America/Mexico_City",
    "Puebla": "America/Mexico_City",
    "Querétaro": "America/Mexico_City",
    "Quintana Roo": "America/Cancun",
    "San Luis Potosí": "America/Mexico_City",
    "Sinaloa": "America/Mazatlan",
    "Sonora": "America/Hermosillo",
    "Tabasco": "America/Mexico_City",
    "Tamaulipas": "America/Monterrey",
    "Tlaxcala": "America/Mexico_City",
    "Veracruz": "America/Mexico_City",
    "Yucatán": "America/Merida",
    "Zacatecas": "America/Mexico_City",
}

_ALIASES = {
    "cdmx": "Ciudad de México",
    "df": "Ciudad de México",
    "distrito_federal": "Ciudad de México",
    "mexico_city": "Ciudad de México",
    "edomex": "Estado de México",
    "edo_mex": "Estado de México",
    "estado_mexico": "Estado de México",
    "mexico": "Estado de México",
    "coahuila_zaragoza": "Coahuila",
    "michoacan_ocampo": "Michoacán",
    "veracruz_ignacio_llave": "Veracruz",
    "q_roo": "Quintana Roo",
    "qroo": "Quintana Roo",
    "bc": "Baja California",
    "bcs": "Baja California Sur",
    "nl": "Nuevo León",
    "slp": "San Luis Potosí",
}

_BY_KEY = {normalize_key(name): name for name in STATE_TIMEZONES}
_BY_KEY.update(_ALIASES)


def canonical_state(raw: str) -> str | None:
    """The state's official short name for a spelling found in a lender's file, or None."""
    return _BY_KEY.get(normalize_key(raw))


def state_timezone(raw: str) -> str | None:
    state = canonical_state(raw)
    return STATE_TIMEZONES[state] if state else None
