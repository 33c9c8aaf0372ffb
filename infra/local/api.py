"""A local API Gateway (REST API, Lambda proxy integration, payload v1) on a werkzeug server.

Only the routes the template declares exist, as in API Gateway: a request for any other path, or a
method the path does not declare, gets the `MISSING_AUTHENTICATION_TOKEN` gateway response, and a
handler that fails (or returns a malformed response) gets `DEFAULT_5XX` with status 502. Both use
the API's `GatewayResponses` from the template, so errors look the same locally and in AWS.

Local conveniences: routes answer at `/<path>` (like `sam local start-api`) and also at
`/<stage>/<path>` (the deployed URL shape). Header names arrive as the WSGI server normalises them
(`X-Api-Key`), which only matters to code comparing header names case-sensitively.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from infra.local.events import api_gateway_event, split_raw_path
from infra.local.net import HttpServer
from infra.local.runtime import InvokeResult
from infra.local.template import LocalTemplate

log = logging.getLogger("infra.local")

# API Gateway's own responses we produce: (default status, default body, the DEFAULT_* type whose
# template applies when the specific type is not customised).
#: API Gateway refuses a request payload over 10 MB itself (REQUEST_TOO_LARGE).
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_GATEWAY_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, '{"message":"Missing Authentication Token"}', "DEFAULT_4XX"),
    "REQUEST_TOO_LARGE": (413, '{"message":"Request Too Long"}', "DEFAULT_4XX"),
    "DEFAULT_5XX": (502, '{"message": "Internal server error"}', "DEFAULT_5XX"),
}
_ERROR_TYPES = {
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",  # nosec B105  # an error type name, not a password
    "DEFAULT_5XX": "InternalServerErrorException",
}


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # template path, e.g. /v1/accounts/{account_id}
    function_id: str
    api_id: str  # logical id of the API
    stage: str
    binary_media_types: tuple[str, ...] = ()

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.strip("/").split("/") if s]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Path parameters when `segments` fit this route's path, else None."""
        pattern = self.segments
        params: dict[str, str] = {}
        for i, part in enumerate(pattern):
            if part.startswith("{") and part.endswith("+}"):
                if i >= len(segments):
                    return None
                params[part[1:-2]] = "/".join(segments[i:])
                return params
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segments[i]
            elif part != segments[i]:
                return None
        return params if len(segments) == len(pattern) else None

    @property
    def specificity(self) -> tuple[int, int]:
        """API Gateway prefers literal segments over parameters, and parameters over greedy ones."""
        literal = sum(1 for s in self.segments if not s.startswith("{"))
        greedy = sum(1 for s in self.segments if s.endswith("+}"))
        return (literal, -greedy)


@dataclass
class RouteTable:
    routes: list[Route] = field(default_factory=list)

    @classmethod
    def from_template(cls, template: LocalTemplate) -> RouteTable:
        routes = []
        for function in template.functions.values():
            for event in function.events_of_type("Api").values():
                api_id = _api_logical_id(event.properties.get("RestApiId"), template)
                api = template.resources.get(api_id)
                api_props = template.resolve(api.properties) if api else {}
                routes.append(Route(
                    method=str(event.properties.get("Method", "any")).upper(),
                    path=str(event.properties["Path"]),
                    function_id=function.logical_id,
                    api_id=api_id,
                    stage=str(api_props.get("StageName", "Prod")),
                    binary_media_types=tuple(api_props.get("BinaryMediaTypes") or ()),
                ))
        return cls(routes)

    def resolve(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
        candidates = []
        for route in self.routes:
            params = route.match(segments)
            if params is not None and route.method in (method.upper(), "ANY"):
                candidates.append((route.specificity, route.method != "ANY", route, params))
        if not candidates:
            return None
        _, _, route, params = max(candidates, key=lambda c: (c[0], c[1]))
        return route, params

    @property
    def stages(self) -> set[str]:
        return {route.stage for route in self.routes}


def _api_logical_id(rest_api_id: Any, template: LocalTemplate) -> str:
    """RestApiId is resolved to the API's id; map it back to the logical id."""
    if rest_api_id is None:
        return "ServerlessRestApi"
    for logical_id in template.apis:
        if template.physical_name(logical_id) == rest_api_id:
            return logical_id
    return str(rest_api_id)


class GatewayResponses:
    """API Gateway's own responses, customised by the template's `GatewayResponses`."""

    def __init__(self, template: LocalTemplate) -> None:
        self._by_api = {
            lid: (template.resolve(r.properties.get("GatewayResponses")) or {}) for lid, r in template.apis.items()
        }

    def render(self, api_id: str | None, response_type: str, *, message: str, request_id: str) -> Response:
        """`response_type` is MISSING_AUTHENTICATION_TOKEN (no such route), REQUEST_TOO_LARGE (a
        payload over 10 MB) or DEFAULT_5XX (handler failed)."""
        responses = self._by_api.get(api_id or "") or next(iter(self._by_api.values()), {})
        default_status, default_body, family = _GATEWAY_DEFAULTS[response_type]
        declared = responses.get(response_type) or responses.get(family) or {}
        body = (declared.get("ResponseTemplates") or {}).get("application/json", default_body)
        body = (
            body.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message)
            .replace("$context.requestId", request_id)
        )
        response = Response(body, status=int(declared.get("StatusCode") or default_status),
                            content_type="application/json")
        for key, value in (declared.get("ResponseParameters") or {}).items():
            if key.startswith("gatewayresponse.header."):
                response.headers[key.split(".", 2)[2]] = str(value).strip("'")
        if response_type in _ERROR_TYPES:
            response.headers["x-amzn-ErrorType"] = _ERROR_TYPES[response_type]
        response.headers["x-amzn-RequestId"] = request_id
        return response


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # access log is ours
        return


class ApiServer:
    """Serves the template's Api events; `invoke(function_id, event)` runs the handler.

    The port is bound at construction (its number is known) but refuses connections until
    `start()`, so the stack opens it last, once everything behind it is ready."""

    def __init__(self, template: LocalTemplate, invoke: Callable[[str, Any], InvokeResult],
                 host: str = "127.0.0.1", port: int = 3000, *, sock: socket.socket | None = None) -> None:
        """`sock`: the port, already bound by `net.bind_socket` (the stack reserves it first thing)."""
        self.routes = RouteTable.from_template(template)
        self._gateway = GatewayResponses(template)
        self._invoke = invoke
        self._account_id = template.account_id
        self._api_ids = {lid: template.physical_name(lid) for lid in template.apis}
        self._server = HttpServer(host, port, self._wsgi, "local API", request_handler=_QuietHandler,
                                  name="local-api", sock=sock)

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def listening(self) -> bool:
        return self._server.listening

    def start(self) -> None:
        """Open the port: from now on connections are accepted and served."""
        self._server.open()

    def stop(self) -> None:
        """Close the port and end open connections (also when never started)."""
        self._server.close()

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        response = self._handle(request)
        log.info("%s %s -> %d (%.0f ms)", request.method, request.path, response.status_code,
                 (time.perf_counter() - started) * 1000)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        raw_path = environ_raw_path(request.environ)
        segments = split_raw_path(raw_path)
        found = self.routes.resolve(request.method, segments)
        if found is None and segments and segments[0] in self.routes.stages:
            segments = segments[1:]
            found = self.routes.resolve(request.method, segments)
        if found is None:
            return self._gateway.render(None, "MISSING_AUTHENTICATION_TOKEN",
                                        message="Missing Authentication Token", request_id=str(uuid.uuid4()))
        route, params = found
        content_type = (request.mimetype or "").lower()
        body = b"" if (request.content_length or 0) > MAX_PAYLOAD_BYTES else request.get_data(cache=False)
        if len(body) > MAX_PAYLOAD_BYTES or (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            return self._gateway.render(route.api_id, "REQUEST_TOO_LARGE", message="Request Too Long",
                                        request_id=str(uuid.uuid4()))
        binary = _is_binary(content_type, route.binary_media_types, body)
        event = api_gateway_event(
            method=request.method,
            path="/" + "/".join(segments),
            resource=route.path,
            path_parameters=params,
            query=request.args.items(multi=True),
            headers=list(request.headers.items()),
            body=body,
            binary=binary,
            source_ip=request.remote_addr or "127.0.0.1",
            stage=route.stage,
            api_id=self._api_ids.get(route.api_id, route.api_id),
            account_id=self._account_id,
        )
        request_id = event["requestContext"]["requestId"]
        result = self._invoke(route.function_id, event)
        response = _proxy_response(result)
        if response is None:
            if not result.ok:
                error = result.payload if isinstance(result.payload, dict) else {}
                log.error("%s failed: %s: %s", route.function_id, error.get("errorType"), error.get("errorMessage"))
            else:
                log.error("%s returned a malformed proxy response: %.200r", route.function_id, result.payload)
            return self._gateway.render(route.api_id, "DEFAULT_5XX", message="Internal server error",
                                        request_id=request_id)
        response.headers.setdefault("x-amzn-RequestId", request_id)
        return response


def environ_raw_path(environ: dict) -> str:
    """The request path as sent (still percent-encoded), so `%2F` does not split a segment."""
    return environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")


def _is_binary(content_type: str, binary_media_types: tuple[str, ...], body: bytes) -> bool:
    """Base64 when the API declares the media type binary; also when the body is not UTF-8 text
    (API Gateway would mangle it; passing it through intact is the more useful local behaviour)."""
    for media_type in binary_media_types:
        media_type = media_type.replace("~1", "/").lower()
        if media_type == "*/*" or media_type == content_type or (
            media_type.endswith("/*") and content_type.startswith(media_type[:-1])
        ):
            return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _proxy_response(result: InvokeResult) -> Response | None:
    """The HTTP response a Lambda proxy integration result describes, or None when malformed."""
    payload = result.payload
    if not result.ok or not isinstance(payload, dict):
        return None
    try:
        status = int(payload.get("statusCode", 200))
    except (TypeError, ValueError):
        return None
    body = payload.get("body") or ""
    if not isinstance(body, str):
        return None
    data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode("utf-8")
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    for name, value in single.items():
        if name not in multi:
            response.headers.add(name, str(value))
    for name, values in multi.items():
        for value in values or []:
            response.headers.add(name, str(value))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"  # API Gateway's default
    return response
