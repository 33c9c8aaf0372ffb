"""Console: the supervisors' web console (SPEC §9), its page and assets served through the API
(GET /console/ and GET /console/{asset+}). It reads no data: the page signs in against the
agents' pool and calls the API with the supervisor's token."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from cobranza.console import site
from cobranza.core.observability import logger
from cobranza.core.settings import get_settings

STATIC = Path(__file__).resolve().parent / "static"
get_settings()  # fail the cold start on a bad environment


@lru_cache(maxsize=64)
def _read(name: str) -> str | None:
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


def _config() -> site.ConsoleConfig:
    settings = get_settings()
    return site.config_of(settings.region, settings.agent_pool_client_id, settings.endpoint_url, settings.map_tile_url)


def _answer(status: int, body: str, headers: dict[str, str]) -> dict[str, Any]:
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def _error(status: int, code: str, message: str, **headers: str) -> dict[str, Any]:
    body = json.dumps({"error": {"code": code, "message": message, "details": []}})
    return _answer(status, body, {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", **headers})


@logger.inject_lambda_context(clear_state=True)
@event_source(data_class=APIGatewayProxyEvent)
def handler(event: APIGatewayProxyEvent, context: LambdaContext) -> dict[str, Any]:
    if event.http_method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", "The console only answers GET.", Allow="GET, HEAD")
    asset = (event.path_parameters or {}).get("asset")
    name = site.asset_name(asset)
    if name is None:
        return _error(404, "not_found", "No such console file.")
    config = _config()
    # the route's path with its parameter filled in: under a custom domain's base path mapping,
    # API Gateway puts the mapping in `path` too, never in `resource`
    route = event.resource.replace("{asset+}", asset or "")
    base = site.base_path(event.request_context.path or event.path, route)
    if name == site.CONFIG:
        body = json.dumps(config.as_json(api_base=base))
    else:
        text = _read(name)
        if text is None:
            return _error(404, "not_found", "No such console file.")
        body = site.with_base(text, base) if name == site.INDEX else text
    headers = site.headers_for(name, config)
    return _answer(200, "" if event.http_method == "HEAD" else body, headers)
