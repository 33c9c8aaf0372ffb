"""The local API Gateway: declared routes only, REST (v1) proxy events, gateway error responses."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

NOT_FOUND = {"error": {"code": "not_found", "message": "No such route.", "details": []}}
INTERNAL = {"error": {"code": "internal", "message": "Internal error.", "details": []}}
EVENT_KEYS = [
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "requestContext", "body",
    "isBase64Encoded",
]


def call(stack, method, path, body=None, headers=None):
    request = urllib.request.Request(stack.api_endpoint + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_route_with_a_path_parameter_gets_the_rest_proxy_event(stack, probe):
    status, headers, body = call(stack, "GET", "/v1/items/abc%20d?x=1&x=2&q=%C3%B1", headers={"x-api-key": "k1"})

    assert (status, json.loads(body)) == (200, {"item_id": "abc d", "stage": "api"})
    assert headers["Content-Type"] == "application/json"
    (event,) = probe("api")
    assert list(event) == EVENT_KEYS
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/v1/items/{item_id}", "/v1/items/abc d", "GET")
    assert event["pathParameters"] == {"item_id": "abc d"}
    assert event["queryStringParameters"] == {"x": "2", "q": "ñ"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "q": ["ñ"]}
    assert event["headers"]["X-Api-Key"] == "k1" and event["multiValueHeaders"]["X-Api-Key"] == ["k1"]
    assert event["stageVariables"] is None and event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert (context["resourcePath"], context["httpMethod"], context["path"], context["stage"]) == (
        "/v1/items/{item_id}", "GET", "/api/v1/items/abc d", "api",
    )
    assert context["accountId"] == "123456789012" and context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] and context["apiId"] and isinstance(context["requestTimeEpoch"], int)


def test_query_strings_and_json_bodies_reach_chalice(stack, probe):
    status, _, body = call(stack, "GET", "/v1/items?limit=5")
    assert (status, json.loads(body)) == (200, {"query": {"limit": "5"}})

    status, headers, body = call(stack, "POST", "/v1/items", body=b'{"name": "x"}',
                                 headers={"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (201, {"created": True, "bytes": 13})
    assert headers["Location"] == "/v1/items/1"
    events = probe("api")
    assert events[-1]["body"] == '{"name": "x"}' and events[-1]["isBase64Encoded"] is False


def test_binary_media_types_arrive_base64_encoded(stack, probe):
    payload = bytes(range(256))
    status, _, body = call(stack, "POST", "/v1/items", body=payload,
                           headers={"Content-Type": "application/octet-stream"})

    assert (status, json.loads(body)) == (201, {"created": True, "bytes": 256})
    (event,) = probe("api")
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == payload


def test_undeclared_paths_and_methods_get_the_templates_404(stack, probe):
    for method, path in (("GET", "/v1/nothing-here"), ("DELETE", "/v1/items"), ("GET", "/"), ("GET", "/v1/items/1/x")):
        status, headers, body = call(stack, method, path)
        assert (status, json.loads(body)) == (404, NOT_FOUND), (method, path)
        assert headers["Content-Type"] == "application/json"
    assert probe("api") == []  # API Gateway answered; no function ran


def test_a_handler_error_becomes_a_502_with_the_templates_5xx_body(stack):
    status, headers, body = call(stack, "GET", "/v1/crash")

    assert (status, json.loads(body)) == (502, INTERNAL)
    assert headers["Content-Type"] == "application/json"
    assert call(stack, "GET", "/v1/items/1")[0] == 200  # the API keeps serving


def test_the_stage_prefixed_url_of_a_deployed_api_also_works(stack):
    status, _, body = call(stack, "GET", "/api/v1/items/7")
    assert (status, json.loads(body)) == (200, {"item_id": "7", "stage": "api"})


def test_concurrent_requests_are_served(stack):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: call(stack, "GET", f"/v1/items/{i}"), range(16)))

    assert [(status, json.loads(body)["item_id"]) for status, _, body in results] == [
        (200, str(i)) for i in range(16)
    ]


def test_a_payload_over_ten_megabytes_is_refused_by_the_gateway_as_in_aws(stack, probe):
    too_big = b"x" * (10 * 1024 * 1024 + 1)
    status, headers, body = call(stack, "POST", "/v1/items", too_big, {"content-type": "application/octet-stream"})
    assert status == 413 and json.loads(body) == {"message": "Request Too Long"}
    assert probe("api") == []  # no function ran
    status, _, _ = call(stack, "POST", "/v1/items", b"x" * 100_000, {"content-type": "application/octet-stream"})
    assert status == 201
