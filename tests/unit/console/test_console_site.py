"""The console's files as the API serves them: names it may serve, headers, the stage prefix,
and the configuration the page signs in with (SPEC §9). Pure: no AWS, no files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cobranza.console import site

STATIC = Path(__file__).resolve().parents[3] / "functions" / "console" / "static"
AWS = site.config_of("us-east-1", "client123", None, None)
LOCAL = site.config_of("us-east-1", "client123", "http://127.0.0.1:4566", None)


@pytest.mark.parametrize("requested, expected", [
    (None, "index.html"), ("", "index.html"), ("/", "index.html"), ("app.js", "app.js"),
    ("vendor/leaflet.css", "vendor/leaflet.css"), ("geo/mexico-states.json", "geo/mexico-states.json"),
    ("config.json", "config.json"),
])
def test_the_console_serves_its_own_files(requested, expected):
    assert site.asset_name(requested) == expected


@pytest.mark.parametrize("requested", [
    "../app.py", "vendor/../../app.py", "..", ".env", "vendor/.hidden.js", "app.py", "template.yaml",
    "vendor/leaflet.js.map", "a/b/c/d/e.js", "app.js%00.png", "x" * 120 + ".js", "app .js", "/etc/passwd",
])
def test_anything_else_is_not_a_console_file(requested):
    assert site.asset_name(requested) is None


def test_the_base_path_is_the_stage_the_request_came_through():
    assert site.base_path("/api/console/app.js", "/console/app.js") == "/api"
    assert site.base_path("/console/", "/console/") == ""
    assert site.base_path("/api/console", "/console") == "/api"
    assert site.base_path("/cobros/console/vendor/leaflet.js", "/console/vendor/leaflet.js") == "/cobros"  # a mapping
    assert site.with_base('<base href="./">', '/a"b') == '<base href="/a&quot;b/console/">'
    assert site.with_base('<head><base href="./"></head>', "/api") == '<head><base href="/api/console/"></head>'


def test_the_page_signs_in_against_cognito_in_aws_and_the_embedded_endpoint_locally():
    assert AWS.cognito_endpoint == "https://cognito-idp.us-east-1.amazonaws.com/"
    assert LOCAL.cognito_endpoint == "http://127.0.0.1:4566/"
    config = AWS.as_json("/api")
    assert config == {"region": "us-east-1", "client_id": "client123", "cognito_endpoint": AWS.cognito_endpoint,
                      "tile_url": None, "api_base": "/api", "default_locale": "es-MX", "locales": ["es-MX", "en"]}
    assert "secret" not in json.dumps(config).lower()


def test_the_content_security_policy_lets_the_page_reach_only_the_api_the_pool_and_the_tiles():
    tiles = site.config_of("us-east-1", "c", None, "https://{s}.tile.example.com/{z}/{x}/{y}.png")
    headers = site.headers_for("index.html", tiles)
    policy = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self' https://cognito-idp.us-east-1.amazonaws.com"
    assert all(f"https://{s}.tile.example.com" in policy["img-src"] for s in "abc")  # Leaflet's {s}
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert headers["Content-Type"] == "text/html; charset=utf-8" and headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    local = site.headers_for("vendor/leaflet.js", LOCAL)
    assert "http://127.0.0.1:4566" in local["Content-Security-Policy"]
    assert local["Content-Type"] == "text/javascript; charset=utf-8" and "max-age" in local["Cache-Control"]


def test_the_page_loads_nothing_from_another_site():
    """No CDN at run time: every script, style and data file is the console's own."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "//" not in page.replace("<!--", "")
    assert '<base href="./">' in page
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    assert "http://" not in script and "https://" not in script
    outline = json.loads((STATIC / "geo" / "mexico-states.json").read_text(encoding="utf-8"))
    assert len(outline["features"]) == 32  # the 31 states and Mexico City
    assert {f["properties"]["id"] for f in outline["features"]} >= {"MX-CMX", "MX-JAL", "MX-NLE", "MX-YUC"}
