"""moto's server as the local stack runs it, with three corrections where moto and AWS differ.

`MotoServer.start` also installs, where moto's cost grows with the data, DynamoDB's transactions,
item answers and requests, queries and item building at the cost of what they touch
(`moto_transactions`, `moto_fast_json`, `moto_queries`, `moto_items`); the pollers' wake-up (`moto_wakeups`); and
moto's list of its own modules read once (its dispatcher lists its package directory, about 150
`stat` calls, for every request). `LocalMotoApp` stores a `BatchWriteItem` of plain puts itself,
as moto would, without moto's dispatch (`moto_batch_writes`); any other goes to moto.

1. **One event per upload, with AWS's fields.** moto's `CompleteMultipartUpload` stores the object
   through its `PutObject` code, which notifies `ObjectCreated:Put` before moto notifies
   `ObjectCreated:CompleteMultipartUpload`: a multipart upload (the AWS CLI's `s3 cp` of a file
   over 8 MB) fired twice. AWS fires one event per upload: `ObjectCreated:Put` for PutObject,
   `ObjectCreated:Post` for a browser (presigned POST) upload, `ObjectCreated:Copy` for CopyObject,
   `ObjectCreated:CompleteMultipartUpload` for a multipart upload or a multipart copy. While the
   stack runs, moto's notification code (`moto.s3.notifications`) is hooked: the `Put` of a
   multipart object is dropped, and each record gets what moto leaves out, taken from the stored
   object when the event happens: the key encoded as AWS does (`quote_plus`, `/` kept), its
   `versionId` (versioned buckets only) and a `sequencer` shared by every destination of the event.
2. **DynamoDB is safe under the server's threads.** moto's server runs a thread per request, and
   its DynamoDB backend iterates live dicts: `Table.all_items()` walks `table.items` (and each
   partition's dict) for every Query and Scan, results are deep-copied and sized item by item,
   while a PutItem in another thread adds keys and an UpdateItem adds attributes in place. A
   thread switch inside such a loop gives `RuntimeError: dictionary changed size during
   iteration` (a 500) under concurrent load. DynamoDB and DynamoDB Streams requests (and moto's
   own `/moto-api/`, whose `data.json` reads every table) are therefore served one at a time,
   their bodies read before the lock is taken. Other services are not serialised. In-process
   moto (`mock_aws`, the tests and benchmarks) takes the same kind of lock through
   `moto_in_process.dynamodb_one_at_a_time()`.
3. **A POST upload's signed policy is enforced** before moto stores anything (moto ignores the
   policy): see `infra.local.post_policy` for the rules and the errors, as AWS answers them.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.formparser import parse_form_data
from werkzeug.wsgi import ClosingIterator

from infra.local import moto_batch_writes, moto_fast_json, moto_items, moto_queries, moto_transactions, moto_wakeups
from infra.local.activity import Wakeup
from infra.local.events import Sequencer, s3_event_key
from infra.local.net import HttpServer
from infra.local.post_policy import PostForm, PostRefusal, check_post
from infra.local.runtime import CREDENTIALS

log = logging.getLogger("infra.local")

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
_SERIALISED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
_SPOOL_BYTES = 16 * 1024 * 1024  # a POST body is kept in memory up to this size, then in a temporary file
_COPY_CHUNK = 1024 * 1024


class _QuietMotoHandler(MotoRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # no access log spam
        return


class MotoServer:
    """moto's server app, as `ThreadedMotoServer` runs it, on an `HttpServer`: the port bound at
    construction (`SO_REUSEADDR`, a clear error when taken), no request log, the corrections of
    the module docstring, and on `stop` the port released, open connections ended (upstream
    `stop()` leaves the socket open) and moto's notification code restored."""

    def __init__(self, host: str, port: int, *, secret_for: Callable[[str], str | None] | None = None,
                 wakeup: Wakeup | None = None) -> None:
        self._wakeup = wakeup
        self.app = LocalMotoApp(DomainDispatcherApplication(create_backend_app), secret_for=secret_for or known_secret)
        self._http = HttpServer(host, port, self.app, "moto server", request_handler=_QuietMotoHandler,
                                name="moto-server")
        self._hooked = False

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def listening(self) -> bool:
        return self._http.listening

    def start(self) -> None:
        hook_s3_notifications()
        moto_transactions.install()
        moto_fast_json.install()
        moto_queries.install()
        moto_items.install()
        _list_modules_once()
        if self._wakeup is not None:
            moto_wakeups.install(self._wakeup)
        self._hooked = True
        self._http.open()

    def stop(self) -> None:
        self._http.close()
        if self._hooked:
            unhook_s3_notifications()
            moto_transactions.uninstall()
            moto_fast_json.uninstall()
            moto_queries.uninstall()
            moto_items.uninstall()
            _list_modules_every_time()
            moto_wakeups.uninstall()
            self._hooked = False


_MODULE_LISTING: dict[str, Any] = {}


def _list_modules_once() -> None:
    if not _MODULE_LISTING:
        modules = tuple(backends.list_of_moto_modules())
        _MODULE_LISTING["original"] = backends.list_of_moto_modules
        backends.list_of_moto_modules = lambda: modules


def _list_modules_every_time() -> None:
    if _MODULE_LISTING:
        backends.list_of_moto_modules = _MODULE_LISTING.pop("original")


class LocalMotoApp:
    """The WSGI app in front of moto's: DynamoDB serialised, POST uploads checked (module docstring)."""

    def __init__(self, app: WsgiApp, *, secret_for: Callable[[str], str | None]) -> None:
        self._app = app
        self._secret_for = secret_for
        self.dynamodb_lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _serialised(environ):
            body = _buffer_small_body(environ)
            with self.dynamodb_lock:
                if body is not None and environ.get("HTTP_X_AMZ_TARGET") == moto_batch_writes.TARGET:
                    answered = moto_batch_writes.answer(environ, body)
                    if answered is not None:
                        status, headers, payload = answered
                        start_response(status, headers)
                        return [payload]
                return self._app(environ, start_response)
        bucket = _post_object_bucket(environ)
        if bucket is not None and environ.get("CONTENT_LENGTH"):
            return self._post_object(environ, start_response, bucket)
        return self._app(environ, start_response)

    def _post_object(self, environ: dict, start_response: Callable[..., Any], bucket: str) -> Iterable[bytes]:
        body = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # closed with the response
        try:
            form = _read_post_form(environ, body)
            refusal = check_post(form, bucket, secret_for=self._secret_for)
        except Exception:
            body.close()
            raise
        if refusal is not None:
            body.close()
            log.warning("POST upload to s3://%s refused: %s %s", bucket, refusal.code, refusal.message)
            return _refuse(refusal, start_response)
        body.seek(0)
        environ["wsgi.input"] = body
        return ClosingIterator(self._app(environ, start_response), [body.close])


def known_secret(access_key: str) -> str | None:
    """The secret of an access key the local stack knows: its own credentials (the functions', the
    admin command's, `LocalStack.client`'s) or a key created in moto's IAM. None for any other."""
    if access_key == CREDENTIALS["AWS_ACCESS_KEY_ID"]:
        return CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    try:
        from moto.iam.models import iam_backends

        for account in list(iam_backends.values()):
            for backend in list(account.values()):
                for user in list(backend.users.values()):
                    for key in list(user.access_keys):
                        if key.access_key_id == access_key:
                            return str(key.secret_access_key)
    except Exception:  # best effort: moto's internals may change
        return None
    return None


def _serialised(environ: dict) -> bool:
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    return target.startswith(_SERIALISED_TARGETS) or (environ.get("PATH_INFO") or "").startswith("/moto-api/")


def _buffer_small_body(environ: dict) -> bytes | None:
    """Read the request body now (a DynamoDB request's is small), so that a slow client does not
    hold the lock while it sends it. Returns it (None when its length is not given)."""
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit():
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        return bytes(body)
    return None


def _post_object_bucket(environ: dict) -> str | None:
    """The bucket of a POST object (browser upload) request, or None for any other request.

    A POST object is an unsigned `multipart/form-data` POST to the bucket: `/<bucket>` (path
    style, as boto3 presigns for an endpoint URL) or `/` on `<bucket>.<host>`."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    if not (environ.get("CONTENT_TYPE") or "").lower().startswith("multipart/form-data"):
        return None
    if environ.get("HTTP_AUTHORIZATION") or environ.get("HTTP_X_AMZ_TARGET"):
        return None
    path = environ.get("PATH_INFO") or "/"
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) > 1 or path.startswith("/moto-api"):
        return None
    if segments:
        return unquote(segments[0])
    host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0]
    if "." in host and not host.replace(".", "").isdigit():
        return host.split(".", 1)[0]
    return ""


def _read_post_form(environ: dict, body: Any) -> PostForm:
    """Copy the request body into `body` and parse the form from it (`body` is moto's input next)."""
    remaining = int(environ["CONTENT_LENGTH"])
    source = environ["wsgi.input"]
    while remaining > 0:
        chunk = source.read(min(_COPY_CHUNK, remaining))
        if not chunk:
            break
        body.write(chunk)
        remaining -= len(chunk)
    body.seek(0)
    parse_environ = {key: value for key, value in environ.items() if key != "wsgi.input_terminated"}
    parse_environ["wsgi.input"] = body
    _, form, files = parse_form_data(parse_environ, silent=True)
    try:
        fields = [(name, value) for name, value in form.items(multi=True) if name.lower() != "file"]
        file_sizes = [_stream_size(storage.stream) for _, storage in files.items(multi=True)]
        file_sizes += [len(value.encode()) for name, value in form.items(multi=True) if name.lower() == "file"]
    finally:
        for _, storage in files.items(multi=True):
            storage.close()
    return PostForm(fields=fields, file_size=file_sizes[0] if file_sizes else None, file_parts=len(file_sizes))


def _stream_size(stream: Any) -> int:
    stream.seek(0, 2)
    return int(stream.tell())


def _refuse(refusal: PostRefusal, start_response: Callable[..., Any]) -> list[bytes]:
    payload = refusal.xml()
    start_response(f"{refusal.status} {HTTPStatus(refusal.status).phrase}",
                   [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))])
    return [payload]


# --------------------------------------------------------------------------- S3 notifications

_hook_lock = threading.Lock()
_originals: dict[str, Any] = {}
_sequencer = Sequencer()
_event = threading.local()  # the sequencer of the event being sent by this (request) thread


def hook_s3_notifications() -> None:
    """Make moto notify one event per upload, with AWS's key encoding, versionId and sequencer
    (module docstring). Idempotent; `unhook_s3_notifications` restores moto's own code."""
    from moto.s3 import notifications

    with _hook_lock:
        if _originals:
            return
        send_event = notifications.send_event
        get_s3_event = notifications._get_s3_event  # the one place moto builds a record
        put_event = notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT

        def one_event_per_upload(account_id: str, event_name: Any, bucket: Any, key: Any) -> None:
            if event_name == put_event and getattr(key, "multipart", None) is not None:
                return  # the PutObject inside CompleteMultipartUpload: AWS notifies the upload once
            _event.sequencer = _sequencer.next()
            try:
                send_event(account_id, event_name, bucket, key)
            finally:
                _event.sequencer = None

        def aws_record(event_name: Any, bucket: Any, key: Any, notification_id: str) -> dict:
            body = get_s3_event(event_name, bucket, key, notification_id)
            obj = body["Records"][0]["s3"]["object"]
            obj["key"] = s3_event_key(key.name)
            version_id = getattr(key, "version_id", None)
            if version_id and version_id != "null":
                obj["versionId"] = version_id
            obj["sequencer"] = getattr(_event, "sequencer", None) or _sequencer.next()
            return body

        _originals.update(send_event=send_event, _get_s3_event=get_s3_event)
        notifications.send_event = one_event_per_upload
        notifications._get_s3_event = aws_record


def unhook_s3_notifications() -> None:
    from moto.s3 import notifications

    with _hook_lock:
        for name, original in _originals.items():
            setattr(notifications, name, original)
        _originals.clear()
