"""The supervisors' console (SPEC §9) as the API serves it: which file a path names, with which
headers, and the configuration the page reads at start. Pure: the files and the settings are
arguments.

The console is static: an HTML page, its script and style, the vendored map and chart libraries
and the outline of Mexico. It holds no secret: it signs in against the agents' Cognito pool with
the public app client (``USER_PASSWORD_AUTH``) and calls the API with the supervisor's IdToken,
so what it shows is exactly what the API lets a supervisor read.
"""
from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
INDEX = "index.html"
CONFIG = "config.json"
#: File names the console may serve: no hidden files, no "..", nothing outside its folder.
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ConsoleConfig:
    """What the page needs to sign in and to draw its map: nothing secret."""

    region: str
    client_id: str
    cognito_endpoint: str
    tile_url: str | None

    def as_json(self, api_base: str) -> dict[str, object]:
        return {"region": self.region, "client_id": self.client_id, "cognito_endpoint": self.cognito_endpoint,
                "tile_url": self.tile_url, "api_base": api_base, "default_locale": "es-MX", "locales": ["es-MX", "en"]}


def config_of(region: str, client_id: str | None, endpoint_url: str | None, tile_url: str | None) -> ConsoleConfig:
    """Cognito's regional endpoint in AWS; the embedded AWS endpoint on the local stack."""
    endpoint = (endpoint_url or f"https://cognito-idp.{region}.amazonaws.com").rstrip("/") + "/"
    return ConsoleConfig(region=region, client_id=client_id or "", cognito_endpoint=endpoint,
                         tile_url=tile_url or None)


def asset_name(requested: str | None) -> str | None:
    """The file a request names, relative to the console's folder (``index.html`` for the
    console's own address), or None when the name is not one the console may serve."""
    if not requested or requested.strip("/") == "":
        return INDEX
    parts = requested.strip("/").split("/")
    if len(parts) > 4 or not all(_SAFE_PART.match(part) for part in parts):
        return None
    name = posixpath.normpath("/".join(parts))
    if name.startswith("..") or posixpath.splitext(name)[1] not in CONTENT_TYPES:
        return None
    return name


def base_path(request_path: str, resource_path: str) -> str:
    """The public path the API is reached under (``/api`` through a stage, a custom domain's base
    path mapping, ``""`` without either): the request's path as the client sent it
    (``requestContext.path``), minus the route's path with its parameters filled in."""
    sent, seen = request_path.rstrip("/"), resource_path.rstrip("/")
    if seen and sent.endswith(seen):
        return sent[: len(sent) - len(seen)]
    return ""


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def _tile_origins(url: str | None) -> str:
    """The tile server's origins: Leaflet fills ``{s}`` with its subdomains a, b and c."""
    if not url:
        return ""
    return " ".join(filter(None, (_origin(url.replace("{s}", sub)) for sub in ("a", "b", "c")))) if "{s}" in url \
        else (_origin(url) or "")


def headers_for(name: str, config: ConsoleConfig) -> dict[str, str]:
    """The response headers of a console file: its type, how long it may be cached, and a
    content security policy that lets the page reach only the API, the pool and the tiles."""
    cognito = _origin(config.cognito_endpoint) or ""
    tiles = _tile_origins(config.tile_url)
    # photos and reports open from presigned S3 links (the local stack's endpoint serves them locally)
    s3 = "https:" if cognito.startswith("https:") else f"https: {cognito}"
    policy = "; ".join([
        "default-src 'self'",
        f"connect-src 'self' {cognito}".strip(),
        f"img-src 'self' data: blob: {s3} {tiles}".strip(),
        "style-src 'self' 'unsafe-inline'",  # the map and chart libraries set element styles
        "script-src 'self'",
        f"frame-src {s3}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])
    cache = "no-cache" if name in (INDEX, CONFIG) else "public, max-age=300"
    return {
        "Content-Type": CONTENT_TYPES[posixpath.splitext(name)[1]],
        "Cache-Control": cache,
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }


def with_base(index_html: str, base: str) -> str:
    """The page with its ``<base href>``, so its relative links work under any stage."""
    return index_html.replace('<base href="./">', f'<base href="{html.escape(base)}/console/">', 1)


def not_found(message: str) -> Mapping[str, object]:
    return {"error": {"code": "not_found", "message": message, "details": []}}
