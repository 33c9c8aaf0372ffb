"""A recording stand-in for the WhatsApp provider API (Meta Cloud API shape), for the local stack.

`POST /<phone_number_id>/messages` with a bearer token answers like the Cloud API
(`{"messaging_product", "contacts", "messages": [{"id": "wamid..."}]}`) and records the request;
`GET /_messages` lists what was recorded (tests and the demo read it). Two numbers misbehave on
purpose, so failures can be exercised: a recipient ending in 0000 is undeliverable (HTTP 400,
error 131026, permanent) and one ending in 0429 is rate limited (HTTP 429, transient).
"""
from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

from werkzeug.serving import WSGIRequestHandler
from werkzeug.wrappers import Request, Response

from infra.local.net import HttpServer


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log on the console
        pass


class WhatsAppRecorder:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_path: Path | None = None) -> None:
        self._server = HttpServer(host, port, self._app, "WhatsApp recorder", request_handler=_QuietHandler,
                                  name="whatsapp-recorder")
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._log_path = log_path

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> "WhatsAppRecorder":
        self._server.open()
        return self

    def stop(self) -> None:
        """Release the port (also when never started)."""
        self._server.close()

    def _app(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "GET" and request.path == "/_messages":
            with self._lock:
                body = json.dumps({"messages": self.messages})
            return Response(body, 200, content_type="application/json")(environ, start_response)
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 2 or parts[1] != "messages":
            return self._error(100, "Unsupported request", 400)(environ, start_response)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return self._error(190, "Missing access token", 401)(environ, start_response)
        try:
            payload = json.loads(request.get_data() or b"{}")
        except ValueError:
            return self._error(100, "Invalid JSON", 400)(environ, start_response)
        to = str(payload.get("to", ""))
        if to.endswith("0429"):
            return self._error(130429, "Rate limit hit", 429)(environ, start_response)
        if to.endswith("0000"):
            return self._error(131026, "Message undeliverable", 400)(environ, start_response)
        message_id = "wamid." + uuid.uuid4().hex
        record = {"id": message_id, "phone_number_id": parts[0], "payload": payload}
        with self._lock:
            self.messages.append(record)
            if self._log_path:
                self._log_path.parent.mkdir(parents=True, exist_ok=True)
                with self._log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
        body = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": message_id}]}
        return Response(json.dumps(body), 200, content_type="application/json")(environ, start_response)

    @staticmethod
    def _error(code: int, message: str, status: int) -> Response:
        body = {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "local"}}
        return Response(json.dumps(body), status, content_type="application/json")
