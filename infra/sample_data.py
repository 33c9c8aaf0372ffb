"""Seeded, streamed generator of realistic Mexican collection portfolios (SPEC sections 3-4).

Rows look like a Mexican lender's export: accented given names and surnames (with regional
surnames in the Yucatan peninsula, the north-east and the north-west), real municipalities with
their state in all 32 states, weighted towards the big metros, real postal codes and colonias,
coordinates within a few hundred metres of a real point of the city, MXN balances with a skewed
distribution, a product mix, due dates in every aging bucket relative to ``as_of``, 10-digit
mobile numbers with the city's real area code in the formats real exports use, emails at common
domains, unique account ids and numeric payment references with a check digit.

Everything is deterministic for a seed (one ``random.Random(seed)``, never the global generator)
and streamed: rows are produced one at a time and the writers never hold more than one row, so
memory does not grow with ``rows``. Rows are also prefix-stable: the first 600 rows of a
1,000,000-row file are the 600 rows of a 600-row file with the same seed and ``as_of``.

Python API::

    from infra.sample_data import iter_accounts, write_portfolio
    for account in iter_accounts(1000, seed=7, as_of=date(2026, 11, 23)):
        ...                                   # dict: COLUMNS -> str ("" when absent)
    write_portfolio("cartera.csv", 1_000_000, seed=42, as_of=date(2026, 11, 23), fmt="csv")

CLI (stdout is a single JSON line: path, rows, bytes, format, seed, as_of, seconds)::

    python -m infra.sample_data --rows 1000000 --seed 42 --as-of 2026-11-23 \\
        --format csv|csv-cp1252|csv.gz|xlsx --out cartera.csv [--tenant-prefix A-]

The generated numbers and addresses look real and some of them may belong to real people: send
nothing to them from a deployed stack (SES sandbox, ``--email-domain example.com``, or the
SES mailbox simulator ``--email-domain simulator.amazonses.com``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import random
import sys
import time
from bisect import bisect
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from cobranza.accounts.segmentation import AGING_BUCKETS, aging_bucket  # noqa: F401  (re-exported)
from cobranza.core import clock

__all__ = [
    "BANK_COLUMNS",
    "BUCKETS",
    "CITIES",
    "COLUMNS",
    "DEFAULT_AS_OF",
    "FORMATS",
    "PRODUCTS",
    "STATES",
    "City",
    "aging_bucket",
    "iter_accounts",
    "iter_rows",
    "main",
    "write_portfolio",
]

# --------------------------------------------------------------------------- columns and formats

#: Canonical (English) header of the default ``csv`` format, SPEC section 3 names.
COLUMNS: tuple[str, ...] = (
    "account_id",
    "debtor_name",
    "balance",
    "due_date",
    "currency",
    "phone",
    "email",
    "address",
    "city",
    "state",
    "postal_code",
    "lat",
    "lon",
    "product",
    "original_amount",
    "payment_reference",
    "whatsapp_opt_in",
)

#: Header of the ``csv-cp1252`` format (a bank's export, as in shared/samples) -> canonical field.
BANK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("No. Crédito", "account_id"),
    ("Nombre del Acreditado", "debtor_name"),
    ("Saldo Total", "balance"),
    ("Fecha de Vencimiento", "due_date"),
    ("Teléfono Celular", "phone"),
    ("Correo Electrónico", "email"),
    ("Domicilio", "address"),
    ("Municipio", "city"),
    ("Estado", "state"),
    ("C.P.", "postal_code"),
    ("Latitud", "lat"),
    ("Longitud", "lon"),
    ("Producto", "product"),
    ("Referencia de Pago", "payment_reference"),
)

FORMATS: tuple[str, ...] = ("csv", "csv-cp1252", "csv.gz", "xlsx")
_EXTENSIONS = {"csv": ".csv", "csv-cp1252": ".csv", "csv.gz": ".csv.gz", "xlsx": ".xlsx"}

#: Fixed default for the API (the CLI defaults to today); the demo's reference date.
DEFAULT_AS_OF = dt.date(2026, 11, 23)

#: Aging buckets of SPEC section 4 (the domain's), with the days-past-due range generated for each and its share.
BUCKETS: tuple[str, ...] = AGING_BUCKETS
_BUCKET_RANGES = ((-45, 0), (1, 30), (31, 60), (61, 90), (91, 120), (121, 900))
_BUCKET_WEIGHTS = (0.30, 0.25, 0.14, 0.10, 0.07, 0.14)


# --------------------------------------------------------------------------- geography
# Each city: the municipality (or CDMX alcaldia) as exports write it, its state, its real area
# code (lada), a weight (roughly population in tens of thousands, so big metros dominate) and
# real points: (colonia, postal code, lat, lon). Coordinates are approximate (a few hundred metres)
# and were chosen inland for coastal cities. Cities with one point get generic colonias around it.

STATES: tuple[str, ...] = (
    "Aguascalientes", "Baja California", "Baja California Sur", "Campeche", "Chiapas",
    "Chihuahua", "Ciudad de México", "Coahuila", "Colima", "Durango", "Estado de México",
    "Guanajuato", "Guerrero", "Hidalgo", "Jalisco", "Michoacán", "Morelos", "Nayarit",
    "Nuevo León", "Oaxaca", "Puebla", "Querétaro", "Quintana Roo", "San Luis Potosí", "Sinaloa",
    "Sonora", "Tabasco", "Tamaulipas", "Tlaxcala", "Veracruz", "Yucatán", "Zacatecas",
)

_CITY_DATA: tuple[tuple[str, str, str, int, tuple[tuple[str, str, float, float], ...]], ...] = (
    # ---- Ciudad de México (lada 55)
    ("Cuauhtémoc", "Ciudad de México", "55", 55, (
        ("Centro", "06000", 19.4326, -99.1332), ("Roma Norte", "06700", 19.4190, -99.1610),
        ("Condesa", "06140", 19.4115, -99.1740), ("Juárez", "06600", 19.4270, -99.1590),
        ("Doctores", "06720", 19.4180, -99.1440), ("Santa María la Ribera", "06400", 19.4520, -99.1590),
        ("Guerrero", "06300", 19.4430, -99.1450), ("Obrera", "06800", 19.4130, -99.1400))),
    ("Benito Juárez", "Ciudad de México", "55", 43, (
        ("Del Valle Centro", "03100", 19.3850, -99.1650), ("Narvarte Poniente", "03020", 19.3960, -99.1560),
        ("Portales Norte", "03300", 19.3690, -99.1450), ("Nápoles", "03810", 19.3940, -99.1760),
        ("Álamos", "03400", 19.3990, -99.1410), ("Mixcoac", "03910", 19.3740, -99.1870))),
    ("Coyoacán", "Ciudad de México", "55", 61, (
        ("Villa Coyoacán", "04000", 19.3500, -99.1620), ("Del Carmen", "04100", 19.3520, -99.1570),
        ("Santa Úrsula Coapa", "04650", 19.3120, -99.1460),
        ("Pedregal de Santo Domingo", "04369", 19.3270, -99.1650),
        ("Copilco Universidad", "04360", 19.3370, -99.1780))),
    ("Iztapalapa", "Ciudad de México", "55", 183, (
        ("Barrio San Lucas", "09000", 19.3580, -99.0900), ("Santa Cruz Meyehualco", "09290", 19.3550, -99.0450),
        ("Desarrollo Urbano Quetzalcóatl", "09700", 19.3160, -99.0600),
        ("San Lorenzo Tezonco", "09790", 19.3080, -99.0700), ("Juan Escutia", "09100", 19.3870, -99.0560))),
    ("Gustavo A. Madero", "Ciudad de México", "55", 117, (
        ("Lindavista", "07300", 19.4890, -99.1320), ("Industrial", "07800", 19.4680, -99.1240),
        ("Villa Gustavo A. Madero", "07050", 19.4840, -99.1170),
        ("Cuautepec Barrio Alto", "07100", 19.5500, -99.1400), ("Nueva Atzacoalco", "07420", 19.4960, -99.0900))),
    ("Álvaro Obregón", "Ciudad de México", "55", 76, (
        ("San Ángel", "01000", 19.3460, -99.1900), ("Guadalupe Inn", "01020", 19.3600, -99.1850),
        ("Olivar de los Padres", "01780", 19.3270, -99.2210), ("Santa Fe", "01210", 19.3660, -99.2600),
        ("Tizapán", "01090", 19.3400, -99.1970))),
    ("Tlalpan", "Ciudad de México", "55", 70, (
        ("Tlalpan Centro", "14000", 19.2900, -99.1680), ("Villa Coapa", "14390", 19.2990, -99.1330),
        ("Toriello Guerra", "14050", 19.2970, -99.1660), ("Isidro Fabela", "14030", 19.2970, -99.1800))),
    ("Azcapotzalco", "Ciudad de México", "55", 43, (
        ("Azcapotzalco Centro", "02000", 19.4840, -99.1860), ("Clavería", "02080", 19.4650, -99.1840),
        ("Nueva Santa María", "02800", 19.4660, -99.1690), ("El Rosario", "02100", 19.5090, -99.2010))),
    ("Miguel Hidalgo", "Ciudad de México", "55", 41, (
        ("Polanco V Sección", "11560", 19.4330, -99.1970), ("Anzures", "11590", 19.4280, -99.1790),
        ("Tacubaya", "11870", 19.4020, -99.1870), ("Escandón", "11800", 19.4010, -99.1790),
        ("Popotla", "11400", 19.4540, -99.1790))),
    ("Venustiano Carranza", "Ciudad de México", "55", 44, (
        ("Moctezuma 2a Sección", "15530", 19.4310, -99.0930), ("Jardín Balbuena", "15900", 19.4170, -99.1120),
        ("Romero Rubio", "15400", 19.4440, -99.0930), ("Morelos", "15270", 19.4430, -99.1250))),
    ("Iztacalco", "Ciudad de México", "55", 40, (
        ("Agrícola Oriental", "08500", 19.3960, -99.0750), ("Granjas México", "08400", 19.4010, -99.0970),
        ("Militar Marte", "08830", 19.3830, -99.1170), ("Reforma Iztaccíhuatl Norte", "08810", 19.3870, -99.1240))),
    ("Tláhuac", "Ciudad de México", "55", 39, (("Barrio La Asunción", "13000", 19.2860, -99.0040),)),
    ("Xochimilco", "Ciudad de México", "55", 44, (("Xochimilco Centro", "16000", 19.2620, -99.1040),)),
    # ---- Estado de México
    ("Ecatepec de Morelos", "Estado de México", "55", 164, (
        ("San Cristóbal Centro", "55000", 19.6010, -99.0500), ("Ciudad Azteca", "55120", 19.5350, -99.0290),
        ("Las Américas", "55076", 19.5770, -99.0290))),
    ("Nezahualcóyotl", "Estado de México", "55", 108, (
        ("Benito Juárez", "57000", 19.4040, -99.0150), ("Evolución", "57700", 19.4000, -99.0300))),
    ("Naucalpan de Juárez", "Estado de México", "55", 83, (
        ("Naucalpan Centro", "53000", 19.4780, -99.2370), ("Ciudad Satélite", "53100", 19.5100, -99.2380),
        ("Lomas Verdes", "53120", 19.5120, -99.2640))),
    ("Tlalnepantla de Baz", "Estado de México", "55", 67, (
        ("Tlalnepantla Centro", "54000", 19.5380, -99.1950), ("Valle Dorado", "54020", 19.5560, -99.2100))),
    ("Toluca", "Estado de México", "722", 91, (
        ("Centro", "50000", 19.2826, -99.6557), ("Universidad", "50130", 19.2800, -99.6690))),
    # ---- Jalisco (33 in the Guadalajara metro)
    ("Guadalajara", "Jalisco", "33", 139, (
        ("Centro", "44100", 20.6767, -103.3475), ("Americana", "44160", 20.6730, -103.3650),
        ("Ladrón de Guevara", "44600", 20.6840, -103.3730), ("Providencia", "44630", 20.6930, -103.3880),
        ("Oblatos", "44700", 20.6900, -103.3150), ("Jardines del Bosque", "44520", 20.6600, -103.3900))),
    ("Zapopan", "Jalisco", "33", 148, (
        ("Zapopan Centro", "45100", 20.7236, -103.3848), ("Ciudad Granja", "45010", 20.6770, -103.4340),
        ("Las Águilas", "45080", 20.6450, -103.4150), ("Tesistán", "45200", 20.8000, -103.4800))),
    ("San Pedro Tlaquepaque", "Jalisco", "33", 69, (("Tlaquepaque Centro", "45500", 20.6409, -103.2933),)),
    ("Tonalá", "Jalisco", "33", 57, (("Tonalá Centro", "45400", 20.6240, -103.2342),)),
    ("Puerto Vallarta", "Jalisco", "322", 29, (
        ("Versalles", "48310", 20.6400, -105.2280), ("El Pitillal", "48290", 20.6600, -105.2190))),
    # ---- Nuevo León (81)
    ("Monterrey", "Nuevo León", "81", 114, (
        ("Centro", "64000", 25.6866, -100.3161), ("Mitras Centro", "64460", 25.6930, -100.3450),
        ("Obispado", "64060", 25.6760, -100.3420), ("Cumbres 1er Sector", "64610", 25.7330, -100.3900))),
    ("Guadalupe", "Nuevo León", "81", 64, (("Guadalupe Centro", "67100", 25.6775, -100.2597),)),
    ("Apodaca", "Nuevo León", "81", 66, (("Apodaca Centro", "66600", 25.7817, -100.1886),)),
    ("San Nicolás de los Garza", "Nuevo León", "81", 41, (("San Nicolás Centro", "66400", 25.7417, -100.3022),)),
    ("San Pedro Garza García", "Nuevo León", "81", 13, (
        ("Del Valle", "66220", 25.6510, -100.3680), ("Centro", "66230", 25.6573, -100.4027))),
    # ---- the rest of the country
    ("Puebla", "Puebla", "222", 170, (
        ("Centro", "72000", 19.0414, -98.2063), ("La Paz", "72160", 19.0550, -98.2250),
        ("San Manuel", "72570", 19.0040, -98.1950))),
    ("Tijuana", "Baja California", "664", 192, (
        ("Zona Centro", "22000", 32.5320, -117.0380), ("Zona Río", "22010", 32.5250, -117.0200),
        ("Libertad", "22300", 32.5360, -117.0200), ("Playas de Tijuana", "22500", 32.5280, -117.1100))),
    ("Mexicali", "Baja California", "686", 105, (("Centro Cívico", "21000", 32.6245, -115.4523),)),
    ("Ensenada", "Baja California", "646", 44, (("Zona Centro", "22800", 31.8667, -116.5964),)),
    ("Mérida", "Yucatán", "999", 100, (
        ("Centro", "97000", 20.9674, -89.5926), ("García Ginerés", "97070", 20.9800, -89.6400),
        ("Itzimná", "97100", 21.0020, -89.6100), ("Francisco de Montejo", "97203", 21.0300, -89.6500))),
    ("Cancún", "Quintana Roo", "998", 91, (("Supermanzana 5", "77500", 21.1619, -86.8515),)),
    ("Playa del Carmen", "Quintana Roo", "984", 33, (("Centro", "77710", 20.6296, -87.0800),)),
    ("Chetumal", "Quintana Roo", "983", 23, (("Centro", "77000", 18.5100, -88.3000),)),
    ("León", "Guanajuato", "477", 172, (
        ("Centro", "37000", 21.1250, -101.6860), ("Jardines del Moral", "37160", 21.1510, -101.6970))),
    ("Irapuato", "Guanajuato", "462", 59, (("Centro", "36500", 20.6767, -101.3563),)),
    ("Celaya", "Guanajuato", "461", 52, (("Centro", "38000", 20.5235, -100.8157),)),
    ("Guanajuato", "Guanajuato", "473", 19, (("Centro", "36000", 21.0190, -101.2574),)),
    ("Querétaro", "Querétaro", "442", 105, (
        ("Centro", "76000", 20.5888, -100.3899), ("Jurica", "76100", 20.6500, -100.4300))),
    ("Hermosillo", "Sonora", "662", 94, (("Centro", "83000", 29.0729, -110.9559),)),
    ("Ciudad Obregón", "Sonora", "644", 44, (("Centro", "85000", 27.4828, -109.9304),)),
    ("Chihuahua", "Chihuahua", "614", 94, (("Centro", "31000", 28.6353, -106.0889),)),
    ("Ciudad Juárez", "Chihuahua", "656", 151, (
        ("Centro", "32000", 31.6904, -106.4245), ("Pronaf", "32315", 31.7390, -106.4480))),
    ("Culiacán", "Sinaloa", "667", 100, (("Centro", "80000", 24.8091, -107.3940),)),
    ("Mazatlán", "Sinaloa", "669", 50, (("Centro", "82000", 23.2400, -106.4100),)),
    ("Aguascalientes", "Aguascalientes", "449", 95, (("Centro", "20000", 21.8853, -102.2916),)),
    ("La Paz", "Baja California Sur", "612", 29, (("Centro", "23000", 24.1426, -110.3128),)),
    ("San José del Cabo", "Baja California Sur", "624", 35, (("Centro", "23400", 23.0631, -109.7024),)),
    ("Campeche", "Campeche", "981", 30, (("Centro", "24000", 19.8300, -90.5250),)),
    ("Tuxtla Gutiérrez", "Chiapas", "961", 60, (("Centro", "29000", 16.7528, -93.1167),)),
    ("Tapachula", "Chiapas", "962", 35, (("Centro", "30700", 14.9080, -92.2650),)),
    ("Saltillo", "Coahuila", "844", 88, (("Centro", "25000", 25.4232, -101.0053),)),
    ("Torreón", "Coahuila", "871", 72, (("Centro", "27000", 25.5428, -103.4068),)),
    ("Colima", "Colima", "312", 16, (("Centro", "28000", 19.2433, -103.7250),)),
    ("Villa de Álvarez", "Colima", "312", 15, (("Centro", "28970", 19.2670, -103.7370),)),
    ("Durango", "Durango", "618", 69, (("Centro", "34000", 24.0277, -104.6532),)),
    ("Acapulco de Juárez", "Guerrero", "744", 78, (("Centro", "39300", 16.8630, -99.8870),)),
    ("Chilpancingo de los Bravo", "Guerrero", "747", 28, (("Centro", "39000", 17.5506, -99.5024),)),
    ("Pachuca de Soto", "Hidalgo", "771", 31, (("Centro", "42000", 20.1011, -98.7591),)),
    ("Morelia", "Michoacán", "443", 85, (("Centro", "58000", 19.7060, -101.1950),)),
    ("Uruapan", "Michoacán", "452", 36, (("Centro", "60000", 19.4208, -102.0628),)),
    ("Cuernavaca", "Morelos", "777", 38, (("Centro", "62000", 18.9242, -99.2216),)),
    ("Tepic", "Nayarit", "311", 43, (("Centro", "63000", 21.5042, -104.8946),)),
    ("Oaxaca de Juárez", "Oaxaca", "951", 27, (("Centro", "68000", 17.0732, -96.7266),)),
    ("San Luis Potosí", "San Luis Potosí", "444", 91, (("Centro", "78000", 22.1565, -100.9855),)),
    ("Villahermosa", "Tabasco", "993", 68, (("Centro", "86000", 17.9892, -92.9475),)),
    ("Reynosa", "Tamaulipas", "899", 70, (("Centro", "88500", 26.0800, -98.2900),)),
    ("Tampico", "Tamaulipas", "833", 30, (("Zona Centro", "89000", 22.2331, -97.8611),)),
    ("Nuevo Laredo", "Tamaulipas", "867", 43, (("Centro", "88000", 27.4861, -99.5069),)),
    ("Matamoros", "Tamaulipas", "868", 54, (("Zona Centro", "87300", 25.8600, -97.5100),)),
    ("Ciudad Victoria", "Tamaulipas", "834", 35, (("Zona Centro", "87000", 23.7369, -99.1411),)),
    ("Tlaxcala", "Tlaxcala", "246", 10, (("Centro", "90000", 19.3139, -98.2404),)),
    ("Apizaco", "Tlaxcala", "241", 8, (("Centro", "90300", 19.4160, -98.1400),)),
    ("Veracruz", "Veracruz", "229", 61, (("Centro", "91700", 19.1800, -96.1500),)),
    ("Xalapa", "Veracruz", "228", 49, (("Centro", "91000", 19.5438, -96.9102),)),
    ("Coatzacoalcos", "Veracruz", "921", 31, (("Centro", "96400", 18.1400, -94.4500),)),
    ("Zacatecas", "Zacatecas", "492", 15, (("Centro", "98000", 22.7709, -102.5832),)),
    ("Fresnillo", "Zacatecas", "493", 24, (("Centro", "99000", 23.1750, -102.8680),)),
)

# Colonia names used around a city given with a single real point (postal code = base + 10 * k).
_GENERIC_COLONIAS = (
    "Jardines del Valle", "Las Flores", "Obrera", "Moderna", "Del Valle", "Industrial",
    "Infonavit Las Palmas", "Los Pinos", "Lomas del Sol", "Revolución", "Emiliano Zapata",
    "Benito Juárez", "San José", "Santa Fe", "El Mirador", "Las Américas", "Bellavista",
    "Fraccionamiento Los Álamos", "Residencial del Parque", "Hidalgo",
)


class City:
    """A municipality with its state, area code, sampling weight and real points (colonias)."""

    __slots__ = ("name", "state", "lada", "weight", "colonias", "lat", "lon")

    def __init__(self, name: str, state: str, lada: str, weight: int,
                 colonias: tuple[tuple[str, str, float, float], ...]) -> None:
        self.name = name
        self.state = state
        self.lada = lada
        self.weight = weight
        self.colonias = colonias
        self.lat = sum(c[2] for c in colonias) / len(colonias)
        self.lon = sum(c[3] for c in colonias) / len(colonias)

    def __repr__(self) -> str:
        return f"City({self.name!r}, {self.state!r})"


def _build_cities() -> tuple[City, ...]:
    cities = []
    for name, state, lada, weight, points in _CITY_DATA:
        if len(points) == 1:
            _, cp, lat, lon = points[0]
            pick = random.Random(f"colonias:{name}:{state}")  # nosec B311  # deterministic sample data, not security
            extra = pick.sample(_GENERIC_COLONIAS, 4)
            base = int(cp)
            step = 10 if base % 1000 + 10 * len(extra) < 1000 else 2  # stay in the same zone
            points = points + tuple(
                (col, f"{base + step * (k + 1):05d}", lat, lon) for k, col in enumerate(extra))
            assert all(p[1][:3] == cp[:3] for p in points)  # nosec B101  # a self-check of the built-in sample data
        cities.append(City(name, state, lada, weight, points))
    return tuple(cities)


#: Every city the generator uses (all 32 states are represented).
CITIES: tuple[City, ...] = _build_cities()

# --------------------------------------------------------------------------- people

_GIVEN_FEMALE = (
    ("María Guadalupe", 30), ("Guadalupe", 20), ("María", 25), ("Juana", 12), ("Verónica", 12),
    ("Rocío", 10), ("Ma. de los Ángeles", 8), ("Leticia", 10), ("Rosa María", 10), ("Patricia", 14),
    ("Alejandra", 14), ("Gabriela", 14), ("Adriana", 12), ("Claudia", 12), ("Elizabeth", 10),
    ("Martha", 10), ("Silvia", 10), ("Araceli", 8), ("Mónica", 10), ("Laura", 10), ("Yolanda", 8),
    ("Margarita", 8), ("Ana María", 8), ("Norma", 8), ("Sofía", 8), ("Valentina", 5), ("Ximena", 6),
    ("Regina", 4), ("Camila", 5), ("María Fernanda", 10), ("Daniela", 10), ("Itzel", 6),
    ("Citlali", 4), ("Xóchitl", 4), ("Mariana", 10), ("Andrea", 10), ("Karla", 8), ("Brenda", 8),
    ("Dulce María", 5), ("Nayeli", 4), ("Jazmín", 5), ("Inés", 3), ("Belén", 3), ("Noemí", 4),
    ("Lucía", 5), ("María de Jesús", 6), ("Concepción", 4), ("Soledad", 3), ("Begoña", 1),
    ("Zoé", 2), ("Mayté", 2),
)
_GIVEN_MALE = (
    ("José", 25), ("Juan", 20), ("José Luis", 18), ("Juan Carlos", 14), ("Miguel Ángel", 14),
    ("Jesús", 14), ("Francisco", 12), ("Luis", 10), ("Alejandro", 12), ("Jorge", 10), ("Carlos", 12),
    ("Pedro", 8), ("Manuel", 8), ("Antonio", 8), ("Ricardo", 8), ("Fernando", 8), ("Roberto", 8),
    ("Javier", 8), ("Sergio", 8), ("Raúl", 8), ("Martín", 8), ("Arturo", 7), ("Héctor", 7),
    ("Andrés", 6), ("Óscar", 7), ("Rubén", 6), ("Ramón", 5), ("Víctor Hugo", 5), ("Joaquín", 4),
    ("Julián", 4), ("Germán", 3), ("Efraín", 3), ("Adrián", 5), ("Iván", 5), ("Ángel", 6),
    ("Santiago", 5), ("Sebastián", 5), ("Mateo", 3), ("Diego", 6), ("Emiliano", 4), ("Leonardo", 5),
    ("Cuauhtémoc", 2), ("Moisés", 3), ("Ismael", 3), ("Nicolás", 3), ("Tomás", 3), ("Saúl", 3),
    ("Abraham", 3), ("Elías", 2), ("Rodrigo", 5), ("José Ángel", 4), ("Íñigo", 1), ("Tomás Efraín", 1),
)
_SURNAMES = (
    ("Hernández", 60), ("García", 45), ("Martínez", 40), ("López", 40), ("González", 38),
    ("Pérez", 32), ("Rodríguez", 30), ("Sánchez", 30), ("Ramírez", 28), ("Cruz", 22),
    ("Flores", 22), ("Gómez", 22), ("Morales", 18), ("Vázquez", 18), ("Reyes", 18), ("Jiménez", 16),
    ("Torres", 16), ("Díaz", 15), ("Gutiérrez", 15), ("Ruiz", 13), ("Mendoza", 13), ("Aguilar", 13),
    ("Ortiz", 12), ("Moreno", 12), ("Castillo", 12), ("Romero", 11), ("Álvarez", 11), ("Méndez", 10),
    ("Chávez", 10), ("Rivera", 10), ("Juárez", 10), ("Ramos", 9), ("Domínguez", 9), ("Herrera", 9),
    ("Medina", 9), ("Castro", 8), ("Vargas", 8), ("Guzmán", 8), ("Velázquez", 8), ("Muñoz", 8),
    ("Rojas", 7), ("de la Cruz", 7), ("Contreras", 7), ("Salazar", 7), ("Luna", 7), ("Ortega", 7),
    ("Santiago", 6), ("Guerrero", 6), ("Estrada", 6), ("Bautista", 6), ("Cortés", 6), ("Soto", 6),
    ("Alvarado", 5), ("Espinoza", 5), ("Lara", 5), ("Ávila", 5), ("Ríos", 5), ("Cervantes", 5),
    ("Silva", 5), ("Delgado", 5), ("Vega", 5), ("Márquez", 5), ("Sandoval", 5), ("Fernández", 5),
    ("León", 4), ("Carrillo", 4), ("Mejía", 4), ("Solís", 4), ("Núñez", 4), ("Rosas", 4),
    ("Valdez", 4), ("Ibarra", 4), ("Campos", 4), ("Navarro", 4), ("Peña", 4), ("Maldonado", 4),
    ("Rosales", 4), ("Acosta", 4), ("Miranda", 3), ("Trejo", 3), ("Valencia", 3), ("Nava", 3),
    ("Pacheco", 3), ("Huerta", 3), ("Padilla", 3), ("Orozco", 3), ("Zúñiga", 3), ("Ordóñez", 3),
    ("Ibáñez", 2), ("Yáñez", 2), ("Patiño", 2), ("Quiñones", 2), ("Saldaña", 2), ("Montaño", 2),
    ("Carreño", 1), ("Montes de Oca", 1), ("Cañedo", 1), ("Muñiz", 2), ("Beltrán", 3),
)
_REGIONAL_SURNAMES = {
    # Maya surnames in the Yucatan peninsula.
    "maya": (("Chan", 10), ("Pech", 8), ("Canul", 7), ("May", 7), ("Pool", 6), ("Uc", 6),
             ("Cauich", 4), ("Dzul", 4), ("Ek", 4), ("Balam", 3), ("Tun", 3), ("Euán", 3),
             ("Chi", 3), ("Poot", 3), ("Cocom", 2), ("Xool", 2), ("Ku", 3), ("Tzab", 2)),
    # Nuevo Leon, Coahuila and Tamaulipas.
    "noreste": (("Garza", 12), ("Treviño", 10), ("Villarreal", 9), ("Cantú", 7), ("Elizondo", 5),
                ("Leal", 5), ("Salinas", 5), ("Guajardo", 4), ("Tamez", 3), ("Zambrano", 3),
                ("Chapa", 3), ("Montemayor", 2), ("de la Garza", 3)),
    # Sonora, Sinaloa, Baja California (Sur) and Chihuahua.
    "noroeste": (("Félix", 8), ("Valenzuela", 8), ("Quintero", 6), ("Zazueta", 3), ("Urías", 3),
                 ("Camacho", 5), ("Verdugo", 3), ("Ochoa", 5), ("Lugo", 4), ("Bojórquez", 4),
                 ("Meza", 4), ("Sepúlveda", 2), ("Armenta", 3)),
}
_STATE_REGION = {
    "Yucatán": "maya", "Quintana Roo": "maya", "Campeche": "maya",
    "Nuevo León": "noreste", "Coahuila": "noreste", "Tamaulipas": "noreste",
    "Sonora": "noroeste", "Sinaloa": "noroeste", "Baja California": "noroeste",
    "Baja California Sur": "noroeste", "Chihuahua": "noroeste",
}

_ASCII = str.maketrans("áéíóúüñÁÉÍÓÚÜÑ", "aeiouunAEIOUUN")

# Email local-part tokens of names that do not fold to a good one by themselves.
_EMAIL_TOKEN = {"Ma. de los Ángeles": "angeles", "María de Jesús": "mariaj"}


def _token(name: str) -> str:
    if name in _EMAIL_TOKEN:
        return _EMAIL_TOKEN[name]
    return name.translate(_ASCII).lower().replace(" ", "").replace(".", "")


def _first_token(name: str) -> str:
    if name in _EMAIL_TOKEN:
        return _EMAIL_TOKEN[name]
    return name.split(" ")[0].translate(_ASCII).lower().replace(".", "")


def _expand(weighted: Iterable[tuple[Any, int]]) -> tuple[Any, ...]:
    """A weighted list flattened so that ``seq[int(random() * len(seq))]`` samples it."""
    return tuple(item for item, weight in weighted for _ in range(weight))


# --------------------------------------------------------------------------- products and money
# (name, share, median amount in MXN of the outstanding balance, sigma of its log, rounding of the
# original amount, lowest share of the original still owed, cap of the balance in MXN)
PRODUCTS: tuple[tuple[str, int, float, float, int, float, int], ...] = (
    ("Préstamo Personal", 28, 14_000, 0.85, 500, 0.15, 500_000),
    ("Tarjeta de Crédito", 24, 7_500, 1.00, 1_000, 0.30, 350_000),
    ("Crédito Nómina", 14, 26_000, 0.70, 1_000, 0.15, 600_000),
    ("Microcrédito", 16, 3_800, 0.65, 100, 0.10, 60_000),
    ("Crédito Grupal", 8, 2_600, 0.55, 100, 0.10, 30_000),
    ("Crédito Automotriz", 6, 165_000, 0.55, 5_000, 0.20, 1_500_000),
    ("Crédito PyME", 4, 95_000, 0.90, 5_000, 0.15, 3_000_000),
)

_STREETS = (
    ("Av. Juárez", 6), ("Av. Hidalgo", 6), ("Calle Morelos", 7), ("Calle 5 de Mayo", 5),
    ("Av. Reforma", 4), ("Calle Allende", 5), ("Calle Vicente Guerrero", 5), ("Calle Zaragoza", 5),
    ("Av. Revolución", 4), ("Calle Independencia", 5), ("Calle Francisco I. Madero", 5),
    ("Calle Aldama", 4), ("Calle Matamoros", 4), ("Calle Álvaro Obregón", 3), ("Calle Galeana", 3),
    ("Calle Niños Héroes", 4), ("Av. Constitución", 3), ("Calle Emiliano Zapata", 5),
    ("Calle Francisco Villa", 3), ("Calle Venustiano Carranza", 4), ("Av. Lázaro Cárdenas", 4),
    ("Calle Nicolás Bravo", 3), ("Privada de los Pinos", 2), ("Cerrada Fresno", 2),
    ("Andador Jacarandas", 1), ("Calle Sor Juana Inés de la Cruz", 2), ("Calle Guadalupe Victoria", 3),
    ("Calle 16 de Septiembre", 4), ("Calle 20 de Noviembre", 3), ("Av. Insurgentes", 2),
    ("Calle Ignacio Zaragoza", 3), ("Calle Benito Juárez", 5), ("Calle Miguel Hidalgo", 4),
    ("Av. de las Torres", 2), ("Calle Roble", 2), ("Calle Nogal", 2), ("Calle Río Bravo", 2),
    ("Calle Pípila", 2), ("Calle Cuauhtémoc", 4), ("Calle Josefa Ortiz de Domínguez", 3),
    ("Calle Ignacio Allende", 3), ("Av. Universidad", 2), ("Calle Mariano Escobedo", 2),
    ("Calle Leona Vicario", 2), ("Calle Peñitas", 1), ("Calle Cañada", 1), ("Calle Ocampo", 3),
)
# Municipalities where addresses use "Mz. / Lt." (manzana / lote) a fifth of the time.
_MANZANA_CITIES = frozenset({
    "Iztapalapa", "Tláhuac", "Gustavo A. Madero", "Ecatepec de Morelos", "Nezahualcóyotl",
    "Cancún", "Playa del Carmen", "Chetumal", "Xochimilco",
})

_EMAIL_DOMAINS = (
    ("gmail.com", 45), ("hotmail.com", 24), ("outlook.com", 9), ("yahoo.com.mx", 8),
    ("yahoo.com", 3), ("live.com.mx", 3), ("icloud.com", 3), ("prodigy.net.mx", 2),
    ("outlook.es", 2), ("hotmail.es", 1),
)

_MISSING_COORDS = 0.05
_MISSING_PHONE = 0.03
_MISSING_EMAIL = 0.10
_WHATSAPP_YES = 0.62
_NO_SECOND_SURNAME = 0.03

# --------------------------------------------------------------------------- row generation


def _cumulative(weights: Iterable[float]) -> tuple[list[float], float]:
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return cum, total


def _city_table() -> list[tuple]:
    """Per city, the precomputed strings and numbers a row needs: name, state, area code, digits
    after it, span and low end of the subscriber numbers, colonias (and how many), the longitude
    jitter scale, the regional surnames, and whether it is in Yucatán (its street
    grid) or uses "Mz. / Lt." addresses."""
    table = []
    for c in CITIES:
        region = _STATE_REGION.get(c.state)
        regional = _expand(_REGIONAL_SURNAMES[region]) if region else ()
        sub_digits = 10 - len(c.lada)
        table.append((
            c.name, c.state, c.lada, sub_digits, 8 * 10 ** (sub_digits - 1), 2 * 10 ** (sub_digits - 1),
            c.colonias, len(c.colonias), 0.0027 / math.cos(math.radians(c.lat)), regional,
            c.state == "Yucatán", c.name in _MANZANA_CITIES,
        ))
    return table


def _name_tokens(names: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Email local-part tokens of every name: the whole name, and its first word."""
    tokens: dict[str, str] = {}
    first_tokens: dict[str, str] = {}
    for name in names:
        tokens[name] = _token(name)
        first_tokens[name] = _first_token(name)
    return tokens, first_tokens


class _IsoDates(dict[int, str]):
    """ISO dates by proleptic ordinal, each formatted once."""

    def __missing__(self, ordinal: int) -> str:
        text = self[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text


# Each helper below draws from ``r`` (the generator's ``random``) in a fixed order: changing that
# order, or drawing one number more or fewer, changes every later row of a seed.


def _surname(r: Any, regional: tuple[str, ...], surnames: tuple[str, ...]) -> str:
    """A regional surname a third of the time where the state has them, else a national one."""
    if regional and r() < 0.35:
        return regional[int(r() * len(regional))]
    return surnames[int(r() * len(surnames))]


def _person(r: Any, female: tuple[str, ...], male: tuple[str, ...], surnames: tuple[str, ...],
            regional: tuple[str, ...]) -> tuple[str, str, str, str]:
    """`(given name, paternal surname, maternal surname or "", full name)`."""
    if r() < 0.5:
        given = female[int(r() * len(female))]
    else:
        given = male[int(r() * len(male))]
    paternal = _surname(r, regional, surnames)
    if r() < _NO_SECOND_SURNAME:
        return given, paternal, "", f"{given} {paternal}"
    maternal = _surname(r, regional, surnames)
    return given, paternal, maternal, f"{given} {paternal} {maternal}"


def _address(r: Any, streets: tuple[str, ...], colonia: str, yucatan: bool, manzana: bool) -> str:
    if yucatan:  # the numbered street grid: "Calle 60 No. 415 x 47 y 49"
        calle = 2 * int(r() * 40) + 20
        cross = 2 * int(r() * 40) + 21
        return f"Calle {calle} No. {int(r() * 900) + 100} x {cross} y {cross + 2}, Col. {colonia}"
    street = streets[int(r() * len(streets))]
    x = r()
    if manzana and x < 0.2:
        return f"{street} Mz. {int(r() * 80) + 1} Lt. {int(r() * 40) + 1}, Col. {colonia}"
    if x > 0.99:
        return f"{street} S/N, Col. {colonia}"
    return _numbered_address(r, street, colonia)


def _numbered_address(r: Any, street: str, colonia: str) -> str:
    number = int(r() * r() * 2500) + 1
    y = r()
    if y < 0.10:
        return f"{street} {number} Int. {int(r() * 20) + 1}, Col. {colonia}"
    if y < 0.16:
        return f"{street} {number} Depto. {int(r() * 5) + 1}0{int(r() * 4) + 1}, Col. {colonia}"
    if y < 0.20:
        return f"{street} {number}-{'ABCD'[int(r() * 4)]}, Col. {colonia}"
    return f"{street} {number}, Col. {colonia}"


def _coordinates(r: Any, plat: float, plon: float, lon_scale: float) -> tuple[str, str]:
    """Within a few hundred metres of the colonia's point, or ("", "") when missing."""
    if r() < _MISSING_COORDS:
        return "", ""
    lat = f"{plat + (r() - 0.5) * 0.0054:.6f}"
    lon = f"{plon + (r() - 0.5) * lon_scale * 2:.6f}"
    return lat, lon


def _phone(r: Any, lada: str, sub_digits: int, sub_span: int, sub_low: int) -> tuple[str, str]:
    """`(phone, whatsapp "si"/"no")`: a mobile number of the city's area code, in one of the
    formats real exports use, or ("", "no") when missing."""
    if r() < _MISSING_PHONE:
        return "", "no"
    sub = str(int(r() * sub_span) + sub_low)
    phone = _phone_format(r(), lada, sub, sub_digits)
    whatsapp = "si" if r() < _WHATSAPP_YES else "no"
    return phone, whatsapp


def _phone_format(style: float, lada: str, sub: str, sub_digits: int) -> str:
    cut = 4 if sub_digits == 8 else 3
    grouped = f"{lada} {sub[:cut]} {sub[cut:]}"
    if style < 0.40:
        return grouped
    if style < 0.70:
        return lada + sub
    if style < 0.90:
        return "+52 " + grouped
    return f"({lada}) {sub[:cut]}-{sub[cut:]}"


def _email(r: Any, given: str, paternal: str, maternal: str, tokens: dict[str, str],
           first_tokens: dict[str, str], domains: tuple[str, ...]) -> str:
    """An address made of the person's names at one of ``domains``, or "" when missing."""
    if r() < _MISSING_EMAIL:
        return ""
    local = _email_local(r, first_tokens[given], tokens[paternal], tokens[maternal] if maternal else "x",
                         tokens[given])
    return f"{local}@{domains[int(r() * len(domains))]}"


def _email_local(r: Any, g: str, p: str, m: str, full_given: str) -> str:
    """The local part from the tokens of the first given name, the surnames and the whole given name."""
    style = r()
    if style < 0.25:
        return f"{g}.{p}"
    if style < 0.45:
        return f"{g}{p}{(int(r() * 46) + 60) % 100:02d}"  # birth year 60..05
    if style < 0.60:
        return f"{g[0]}{p}{m[0]}{int(r() * 999) + 1}"
    if style < 0.75:
        return f"{g}_{p}{int(r() * 99) + 1}"
    if style < 0.88:
        return f"{p}.{g}{int(r() * 999) + 1}"
    return f"{full_given}{int(r() * 9000) + 1000}"


def _money(r: Any, gauss: Any, mu: float, sigma: float, rounding: int, low: float, span: float,
           cap: int) -> tuple[int, int]:
    """`(balance, original amount)` in centavos: a log-normal balance within the product's bounds,
    and the original loan it is a share of, rounded up."""
    cents = int(math.exp(mu + sigma * gauss()) * 100)
    if cents < 5_000:
        cents = 5_000 + int(r() * 5_000)
    elif cents > cap:
        cents = cap - int(r() * cap * 0.3)
    original = -(-int(cents / (low + span * r())) // rounding) * rounding
    if original < cents:  # float rounding guard: original >= balance always
        original = -(-cents // rounding) * rounding
    return cents, original


def _days_past_due(r: Any, i: int, bucket_cum: list[float], bucket_total: float) -> int:
    """The first rows cover every bucket, then the mix of _BUCKET_WEIGHTS (the last bucket skewed
    towards its low end)."""
    b = i if i < 6 else bisect(bucket_cum, r() * bucket_total)
    lo, hi = _BUCKET_RANGES[b]
    if b == 5:
        return lo + int(r() * r() * (hi - lo + 1))
    return lo + int(r() * (hi - lo + 1))


def _reference(n: int) -> str:
    """Numeric reference: 10 digits (a bijection of n below 10**9) + 2 check digits (mod 97-10)."""
    base = 3_000_000_000 + (n * 7_919) % 1_000_000_000
    return f"{base}{98 - (base * 100) % 97:02d}"


def iter_rows(rows: int, seed: int = 42, as_of: dt.date = DEFAULT_AS_OF, *,
              tenant_prefix: str = "A-", start: int = 1,
              email_domains: Sequence[str] | None = None) -> Iterator[tuple[str, ...]]:
    """Rows as tuples of strings in :data:`COLUMNS` order ("" for an absent value).

    The fast path the writers use; :func:`iter_accounts` is the same stream as dicts.
    Account ids are ``tenant_prefix`` + the sequence number ``start``, ``start+1``, ... (``A-1``).
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    rng = random.Random(seed)  # nosec B311  # seeded, reproducible sample data, not security
    r = rng.random
    gauss = rng.gauss

    city_cum, city_total = _cumulative(c.weight for c in CITIES)
    city_info = _city_table()
    female = _expand(_GIVEN_FEMALE)
    male = _expand(_GIVEN_MALE)
    surnames = _expand(_SURNAMES)
    tokens, first_tokens = _name_tokens(
        {*female, *male, *surnames, *(s for v in _REGIONAL_SURNAMES.values() for s, _ in v)})
    streets = _expand(_STREETS)
    domains = tuple(email_domains) if email_domains else _expand(_EMAIL_DOMAINS)
    prod_cum, prod_total = _cumulative(p[1] for p in PRODUCTS)
    products = [(name, math.log(median), sigma, rounding * 100, low, 1.0 - low, cap * 100)
                for name, _, median, sigma, rounding, low, cap in PRODUCTS]
    bucket_cum, bucket_total = _cumulative(_BUCKET_WEIGHTS)
    as_of_ordinal = as_of.toordinal()
    iso_dates = _IsoDates()

    for i in range(rows):
        n = start + i
        (city, state, lada, sub_digits, sub_span, sub_low, colonias, n_col, lon_scale, regional,
         yucatan, manzana) = city_info[bisect(city_cum, r() * city_total)]
        colonia, cp, plat, plon = colonias[int(r() * n_col)]
        given, paternal, maternal, debtor_name = _person(r, female, male, surnames, regional)
        address = _address(r, streets, colonia, yucatan, manzana)
        lat, lon = _coordinates(r, plat, plon, lon_scale)
        phone, whatsapp = _phone(r, lada, sub_digits, sub_span, sub_low)
        email = _email(r, given, paternal, maternal, tokens, first_tokens, domains)
        product, mu, sigma, rounding, low, span, cap = products[bisect(prod_cum, r() * prod_total)]
        cents, original = _money(r, gauss, mu, sigma, rounding, low, span, cap)
        due = iso_dates[as_of_ordinal - _days_past_due(r, i, bucket_cum, bucket_total)]
        yield (
            f"{tenant_prefix}{n}", debtor_name, f"{cents // 100}.{cents % 100:02d}", due, "MXN", phone, email,
            address, city, state, cp, lat, lon, product, f"{original // 100}.00", _reference(n), whatsapp,
        )


def iter_accounts(rows: int, seed: int = 42, as_of: dt.date = DEFAULT_AS_OF, *,
                  tenant_prefix: str = "A-", start: int = 1,
                  email_domains: Sequence[str] | None = None) -> Iterator[dict[str, str]]:
    """Accounts as dicts keyed by :data:`COLUMNS`, values as the canonical CSV writes them.

    A lazy iterator: nothing is generated until it is consumed, one row at a time.
    """
    for row in iter_rows(rows, seed, as_of, tenant_prefix=tenant_prefix, start=start,
                         email_domains=email_domains):
        yield dict(zip(COLUMNS, row))


# --------------------------------------------------------------------------- writers


def _bank_rows(rows: Iterable[tuple[str, ...]]) -> Iterator[tuple[str, ...]]:
    """Canonical rows -> the bank export: Spanish columns, dd/mm/yyyy, 1.234,56."""
    for (account_id, debtor_name, balance, due, _currency, phone, email, address, city, state, cp,
         lat, lon, product, _original, reference, _whatsapp) in rows:
        pesos, centavos = balance.split(".")
        yield (
            account_id, debtor_name, f"{int(pesos):,}".replace(",", ".") + "," + centavos,
            f"{due[8:10]}/{due[5:7]}/{due[0:4]}", phone, email, address, city, state, cp, lat, lon,
            product, reference,
        )


def _xlsx_rows(rows: Iterable[tuple[str, ...]]) -> Iterator[list[Any]]:
    """Canonical rows -> typed cells as a spreadsheet holds them (numbers, dates, text)."""
    dates: dict[str, dt.date] = {}
    for row in rows:
        cells: list[Any] = list(row)
        cells[2] = float(row[2])
        due = dates.get(row[3])
        if due is None:
            due = dates[row[3]] = dt.date.fromisoformat(row[3])
        cells[3] = due
        cells[11] = float(row[11]) if row[11] else None
        cells[12] = float(row[12]) if row[12] else None
        cells[14] = float(row[14])
        for k in (5, 6):
            if not cells[k]:
                cells[k] = None
        yield cells


class _CountingWriter(io.RawIOBase):
    """Counts the bytes written through to a binary file object."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        n = self.target.write(data)
        n = len(data) if n is None else n
        self.count += n
        return n


def _infer_format(path: Any) -> str:
    name = str(getattr(path, "name", path)).lower()
    if name.endswith(".csv.gz") or name.endswith(".gz"):
        return "csv.gz"
    if name.endswith(".xlsx"):
        return "xlsx"
    return "csv"


def write_portfolio(path: str | os.PathLike[str] | IO[bytes], rows: int, seed: int = 42,
                    as_of: dt.date = DEFAULT_AS_OF, fmt: str | None = None, *,
                    tenant_prefix: str = "A-", start: int = 1,
                    email_domains: Sequence[str] | None = None) -> dict[str, Any]:
    """Stream ``rows`` generated accounts to ``path`` (a path or a writable binary file object).

    ``fmt``: ``csv`` (UTF-8, canonical English header, ``,``, LF), ``csv-cp1252`` (the bank
    export: Windows-1252, Spanish header, ``;``, CRLF, day-first dates, ``1.234,56``), ``csv.gz``
    (gzip of ``csv``, byte-reproducible) or ``xlsx`` (openpyxl write-only, typed cells);
    ``None`` infers it from the file name (``.csv.gz``, ``.xlsx``, else ``csv``).
    Returns ``{"path", "rows", "bytes", "format", "seed", "as_of", "seconds"}``.
    """
    fmt = fmt or _infer_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    started = time.perf_counter()
    source = iter_rows(rows, seed, as_of, tenant_prefix=tenant_prefix, start=start,
                       email_domains=email_domains)
    is_path = isinstance(path, (str, os.PathLike))
    raw: IO[bytes] = open(path, "wb") if is_path else path  # type: ignore[arg-type]
    counter = _CountingWriter(raw)
    try:
        if fmt == "xlsx":
            _write_xlsx(counter, source)
        else:
            buffered = io.BufferedWriter(counter, buffer_size=1 << 20)
            zipped = None
            binary: IO[bytes] = buffered
            if fmt == "csv.gz":
                zipped = gzip.GzipFile(filename="", mode="wb", fileobj=buffered, compresslevel=6, mtime=0)
                binary = zipped  # type: ignore[assignment]
            bank = fmt == "csv-cp1252"
            text = io.TextIOWrapper(binary, encoding="cp1252" if bank else "utf-8", newline="",
                                    write_through=False)
            if bank:
                writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
                writer.writerow([header for header, _ in BANK_COLUMNS])
                writer.writerows(_bank_rows(source))
            else:
                writer = csv.writer(text, delimiter=",", lineterminator="\n")
                writer.writerow(COLUMNS)
                writer.writerows(source)
            text.flush()
            text.detach()
            if zipped is not None:
                zipped.close()  # writes the gzip trailer; leaves ``buffered`` open
            buffered.flush()
            buffered.detach()
    finally:
        if is_path:
            raw.close()
        else:
            raw.flush()
    return {
        "path": str(path) if is_path else getattr(path, "name", None),
        "rows": rows,
        "bytes": counter.count,
        "format": fmt,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _write_xlsx(target: IO[bytes], source: Iterator[tuple[str, ...]]) -> None:
    from openpyxl import Workbook  # imported lazily: only this format needs it

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Cartera")
    ws.append(list(COLUMNS))
    for cells in _xlsx_rows(source):
        ws.append(cells)
    wb.save(target)


# --------------------------------------------------------------------------- CLI


def _parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {value!r}") from exc


def today(zone: str = "America/Mexico_City") -> dt.date:
    """Today's date in ``zone`` (a tenant's default zone), on the platform's clock."""
    return clock.utcnow().astimezone(ZoneInfo(zone)).date()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.sample_data",
        description="Write a seeded, realistic Mexican collections portfolio file (streamed).")
    parser.add_argument("--rows", type=int, required=True, help="number of accounts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=_parse_date, default=None,
                        help="reference date for aging (default: today in Mexico City)")
    parser.add_argument("--format", choices=FORMATS, default="csv", dest="fmt")
    parser.add_argument("--out", default=None,
                        help="output path (default: cartera_<rows>_<seed><ext> in the current directory)")
    parser.add_argument("--tenant-prefix", default="A-", help="account id prefix (default A-: A-1, A-2, ...)")
    parser.add_argument("--start", type=int, default=1, help="first account sequence number")
    parser.add_argument("--email-domain", action="append", default=None,
                        help="use only this email domain (repeatable), e.g. example.com")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    as_of = args.as_of or today()
    out = args.out or f"cartera_{args.rows}_{args.seed}{_EXTENSIONS[args.fmt]}"
    if os.path.dirname(out):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    summary = write_portfolio(out, args.rows, args.seed, as_of, args.fmt,
                              tenant_prefix=args.tenant_prefix, start=args.start,
                              email_domains=args.email_domain)
    sys.stdout.write(json.dumps(summary, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
