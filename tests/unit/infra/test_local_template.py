"""The local stack's pure logic: template resolution, schedule expressions, routes and event rules.

No AWS, no processes: what `infra.local` derives from `template.yaml` before it starts anything.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra.local.api import Route, RouteTable
from infra.local.events import failed_item_ids, s3_event_key, s3_record, scheduled_event
from infra.local.post_policy import PostForm, check_post
from infra.local.resources import creation_order
from infra.local.schedule import ScheduleError, parse_schedule
from infra.local.template import LocalTemplate, TemplateError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def template() -> LocalTemplate:
    return LocalTemplate(ROOT / "template.yaml")


def write_template(tmp_path: Path, body: str) -> LocalTemplate:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return LocalTemplate(path)


# --------------------------------------------------------------------------- names


def test_resources_get_deterministic_local_names(template):
    assert template.physical_name("AccountsTable") == "cobranza-AccountsTable"
    assert template.physical_name("DataBucket") == "cobranza-data-123456789012-us-east-1"
    assert template.physical_name("EmailQueue") == "http://127.0.0.1:4566/123456789012/cobranza-EmailQueue"
    assert template.attribute("EmailQueue", "Arn") == "arn:aws:sqs:us-east-1:123456789012:cobranza-EmailQueue"
    assert template.attribute("EmailDLQ", "QueueName") == "cobranza-EmailDLQ"
    assert template.physical_name("IngestFunction") == "cobranza-IngestFunction"
    assert template.physical_name("AlarmTopic") == "arn:aws:sns:us-east-1:123456789012:cobranza-AlarmTopic"
    assert template.attribute("DataBucket", "Arn") == "arn:aws:s3:::cobranza-data-123456789012-us-east-1"


def test_queue_urls_follow_the_endpoint_the_stack_listens_on():
    local = LocalTemplate(ROOT / "template.yaml", aws_endpoint="http://127.0.0.1:45999/")
    assert local.physical_name("EmailQueue") == "http://127.0.0.1:45999/123456789012/cobranza-EmailQueue"


def test_redrive_policies_resolve_to_the_dead_letter_queue_arn(template):
    props = template.resolve(template.resource("EmailQueue").properties)
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:cobranza-EmailDLQ",
        "maxReceiveCount": 10,
    }


def test_dead_letter_queues_are_created_before_the_queues_that_name_them(template):
    order = creation_order(template)
    assert order.index("EmailDLQ") < order.index("EmailQueue")
    assert {"DataBucket", "AccountsTable", "TimelineTable", "FailedInvocationsDLQ"} <= set(order)
    assert "IngestFunction" not in order  # functions run in workers, not in moto


# --------------------------------------------------------------------------- functions


def test_function_environment_merges_globals_and_resolves_every_value_to_a_string(template):
    env = template.function_environment("IngestFunction")
    assert env["POWERTOOLS_SERVICE_NAME"] == "ingest"
    assert env["DATA_BUCKET"] == "cobranza-data-123456789012-us-east-1"
    assert env["ACCOUNTS_TABLE"] == "cobranza-AccountsTable"
    assert env["EMAIL_QUEUE_URL"] == "http://127.0.0.1:4566/123456789012/cobranza-EmailQueue"
    assert env["SENDER_EMAIL"] == "no-reply@example.com"
    assert env["COBRANZA_STAGE"] == "cobranza"
    assert all(isinstance(value, str) for value in env.values())
    assert template.function_environment("ApiFunction")["POWERTOOLS_SERVICE_NAME"] == "api"


def test_parameters_can_be_overridden_and_unknown_ones_are_refused():
    local = LocalTemplate(ROOT / "template.yaml", parameters={"SenderEmail": "cobranza@lender.example"})
    assert local.function_environment("DispatchFunction")["SENDER_EMAIL"] == "cobranza@lender.example"
    with pytest.raises(TemplateError, match="NoSuchParameter"):
        LocalTemplate(ROOT / "template.yaml", parameters={"NoSuchParameter": "x"})


def test_conditional_resources_exist_only_when_their_condition_holds(template):
    assert "AlarmEmailSubscription" not in template.resources
    with_email = LocalTemplate(ROOT / "template.yaml", parameters={"AlarmEmail": "ops@example.com"})
    assert "AlarmEmailSubscription" in with_email.resources


def test_function_specs_carry_code_handler_limits_layers_and_events(template):
    ingest = template.functions["IngestFunction"]
    assert ingest.code_dir == ROOT / "functions" / "ingest"
    assert (ingest.handler_module, ingest.handler_attribute) == ("app", "handler")
    assert (ingest.timeout, ingest.memory_size) == (900, 1024)
    assert ingest.layer_dirs == (ROOT / "layers" / "cobranza",)
    # the PDF renderer's 70 MB only where the daily report is rendered (Globals' layer first)
    assert template.functions["AlarmsFunction"].layer_dirs == (ROOT / "layers" / "cobranza", ROOT / "layers" / "reports")
    assert "weasyprint" not in (ROOT / "layers" / "cobranza" / "requirements.txt").read_text().lower()
    upload = ingest.events["PortfolioUploaded"]
    assert (upload.type, upload.properties["Bucket"]) == ("S3", "cobranza-data-123456789012-us-east-1")
    assert ingest.event_invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == (
        "arn:aws:sqs:us-east-1:123456789012:cobranza-FailedInvocationsDLQ"
    )
    api = template.functions["ApiFunction"]
    assert api.handler_attribute == "app" and api.timeout == 29 and api.memory_size == 512
    assert template.schedule_rule_arn("CampaignFunction", "Nightly") == (
        "arn:aws:events:us-east-1:123456789012:rule/cobranza-CampaignFunction-Nightly"
    )


# --------------------------------------------------------------------------- intrinsics


def test_intrinsic_functions_resolve_like_cloudformation(tmp_path):
    local = write_template(tmp_path, """
        Parameters:
          Env: {Type: String, Default: dev}
        Conditions:
          IsProd: !Equals [!Ref Env, prod]
        Mappings:
          Sizes: {dev: {Memory: 256}}
        Resources:
          Q:
            Type: AWS::SQS::Queue
            Properties:
              Tags:
                - {Key: sub-list, Value: !Sub ["${Name}-${AWS::Region}", {Name: !GetAtt Q.QueueName}]}
                - {Key: literal, Value: !Sub "${!NotAVariable}"}
                - {Key: join, Value: !Join ["/", [a, !Select [1, !Split [",", "x,y,z"]]]]}
                - {Key: if, Value: !If [IsProd, big, small]}
                - {Key: not, Value: !Not [!Condition IsProd]}
                - {Key: map, Value: !FindInMap [Sizes, !Ref Env, Memory]}
                - {Key: azs, Value: !Select [0, !GetAZs ""]}
                - !If [IsProd, {Key: only-prod, Value: x}, !Ref AWS::NoValue]
    """)
    tags = {tag["Key"]: tag["Value"] for tag in local.resolve(local.resource("Q").properties)["Tags"]}
    assert tags == {
        "sub-list": "cobranza-Q-us-east-1",
        "literal": "${NotAVariable}",
        "join": "a/y",
        "if": "small",
        "not": True,
        "map": 256,
        "azs": "us-east-1a",
    }


def test_unknown_tags_fail_when_the_template_is_loaded(tmp_path):
    with pytest.raises(TemplateError, match=r"unsupported CloudFormation tag !Cidr at line 5"):
        write_template(tmp_path, """
            Resources:
              Q:
                Type: AWS::SQS::Queue
                Properties: {QueueName: !Cidr [x, 1, 2]}
        """)


def test_what_cannot_be_resolved_locally_fails_loudly(tmp_path):
    local = write_template(tmp_path, """
        Resources:
          Q:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !ImportValue shared-name
              RedrivePolicy: {deadLetterTargetArn: !GetAtt Q.NoSuchAttribute}
    """)
    with pytest.raises(TemplateError, match="ImportValue"):
        local.resolve(local.resource("Q").properties["QueueName"])
    with pytest.raises(TemplateError, match=r"Q\.NoSuchAttribute"):
        local.resolve(local.resource("Q").properties["RedrivePolicy"])
    with pytest.raises(TemplateError, match="Missing"):
        local.physical_name("Missing")


# --------------------------------------------------------------------------- schedules


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_nightly_cron_fires_at_eight_utc_every_day_only():
    nightly = parse_schedule("cron(0 8 * * ? *)")
    assert nightly.matches(at("2026-03-01T08:00:00"))
    assert nightly.matches(at("2026-03-01T08:00:59"))
    assert not nightly.matches(at("2026-03-01T08:01:00"))
    assert not nightly.matches(at("2026-03-01T07:59:00"))


def test_aws_cron_requires_question_mark_in_one_day_field():
    with pytest.raises(ScheduleError, match="exactly one"):
        parse_schedule("cron(0 8 * * * *)")
    with pytest.raises(ScheduleError, match="exactly one"):
        parse_schedule("cron(0 8 ? * ? *)")
    with pytest.raises(ScheduleError, match="6 fields"):
        parse_schedule("cron(0 8 * * ?)")


def test_cron_ranges_lists_steps_and_names():
    office = parse_schedule("cron(0/15 9-17 ? * MON-FRI *)")
    assert office.matches(at("2026-03-02T09:45:00"))  # a Monday
    assert office.matches(at("2026-03-06T17:00:00"))  # a Friday
    assert not office.matches(at("2026-03-07T10:00:00"))  # a Saturday
    assert not office.matches(at("2026-03-02T09:50:00"))
    listed = parse_schedule("cron(5,35 6 1,15 JAN,JUL ? 2026-2027)")
    assert listed.matches(at("2026-07-15T06:35:00"))
    assert not listed.matches(at("2026-08-15T06:35:00"))
    assert not listed.matches(at("2028-01-01T06:05:00"))
    sundays = parse_schedule("cron(0 12 ? * 1 *)")  # AWS: 1 = Sunday
    assert sundays.matches(at("2026-03-01T12:00:00")) and not sundays.matches(at("2026-03-02T12:00:00"))


def test_cron_last_nth_and_nearest_weekday():
    assert parse_schedule("cron(0 0 L * ? *)").matches(at("2026-02-28T00:00:00"))
    assert not parse_schedule("cron(0 0 L * ? *)").matches(at("2026-02-27T00:00:00"))
    third_friday = parse_schedule("cron(0 10 ? * 6#3 *)")
    assert third_friday.matches(at("2026-03-20T10:00:00")) and not third_friday.matches(at("2026-03-13T10:00:00"))
    last_monday = parse_schedule("cron(0 10 ? * 2L *)")
    assert last_monday.matches(at("2026-03-30T10:00:00")) and not last_monday.matches(at("2026-03-23T10:00:00"))
    nearest = parse_schedule("cron(0 9 15W * ? *)")  # 2026-03-15 is a Sunday -> Monday 16th
    assert nearest.matches(at("2026-03-16T09:00:00")) and not nearest.matches(at("2026-03-15T09:00:00"))


def test_cron_with_a_time_zone_and_invalid_values():
    mexico = parse_schedule("cron(0 2 * * ? *)", "America/Mexico_City")
    assert mexico.matches(at("2026-03-01T08:00:00"))  # 02:00 in Mexico City (UTC-6)
    with pytest.raises(ScheduleError):
        parse_schedule("cron(60 8 * * ? *)")
    with pytest.raises(ScheduleError):
        parse_schedule("cron(0 8 * FOO ? *)")
    with pytest.raises(ScheduleError):
        parse_schedule("every day")


def test_rate_fires_every_period_after_the_rule_exists():
    anchor = at("2026-03-01T10:00:00")
    five = parse_schedule("rate(5 minutes)")
    fired = [m for m in range(0, 16) if five.fires_at(anchor + timedelta(minutes=m), anchor)]
    assert fired == [5, 10, 15]
    assert parse_schedule("rate(1 hour)").fires_at(anchor + timedelta(hours=1), anchor)
    with pytest.raises(ScheduleError):
        parse_schedule("rate(1 minutes)")


def test_the_scheduled_event_envelope_is_eventbridges():
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", datetime(2026, 3, 1, 8, 0, 30),
                            account_id="123456789012", region="us-east-1")
    assert list(event) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert event["time"] == "2026-03-01T08:00:30Z"
    assert (event["detail-type"], event["source"], event["detail"]) == ("Scheduled Event", "aws.events", {})


# --------------------------------------------------------------------------- routes and event rules


def test_every_api_event_of_the_template_is_a_route(template):
    table = RouteTable.from_template(template)
    declared = {(r.method, r.path, r.stage) for r in table.routes}
    assert ("GET", "/v1/accounts/{account_id}", "api") in declared
    route, params = table.resolve("GET", ["v1", "accounts", "4000100"])
    assert (route.path, params) == ("/v1/accounts/{account_id}", {"account_id": "4000100"})
    route, _ = table.resolve("DELETE", ["v1", "accounts", "4000100"])  # the path's ANY (405 from the function)
    assert (route.method, route.path) == ("ANY", "/v1/accounts/{account_id}")
    assert table.resolve("GET", ["v1", "accounts", "4000100", "extra"]) is None


def test_literal_segments_win_over_parameters_and_greedy_paths():
    table = RouteTable([
        Route("GET", "/v1/{proxy+}", "F", "A", "api"),
        Route("GET", "/v1/items/{item_id}", "F", "A", "api"),
        Route("GET", "/v1/items/latest", "F", "A", "api"),
        Route("ANY", "/v1/items/latest", "G", "A", "api"),
    ])
    assert table.resolve("GET", ["v1", "items", "latest"])[0].path == "/v1/items/latest"
    assert table.resolve("GET", ["v1", "items", "latest"])[0].function_id == "F"
    assert table.resolve("GET", ["v1", "items", "7"])[1] == {"item_id": "7"}
    assert table.resolve("GET", ["v1", "a", "b"])[1] == {"proxy": "a/b"}


def test_batch_item_failures_follow_lambdas_rules():
    ids = ["m1", "m2", "m3"]
    assert failed_item_ids({"batchItemFailures": []}, ids) == set()
    assert failed_item_ids(None, ids) == set()
    assert failed_item_ids({"batchItemFailures": [{"itemIdentifier": "m2"}]}, ids) == {"m2"}
    assert failed_item_ids({"batchItemFailures": [{"itemIdentifier": "unknown"}]}, ids) is None
    assert failed_item_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) is None


def test_s3_keys_are_url_encoded_as_aws_sends_them():
    assert s3_event_key("portfolios/t1/cartera marzo+2026.csv") == "portfolios/t1/cartera+marzo%2B2026.csv"
    assert s3_event_key("portfolios/t1/año (1).csv") == "portfolios/t1/a%C3%B1o+%281%29.csv"


def test_an_s3_record_keeps_the_version_and_sequencer_moto_was_given_and_drops_a_null_version():
    moto_record = {"eventName": "ObjectCreated:CompleteMultipartUpload", "eventTime": "2026-03-01T08:00:00.000Z",
                   "s3": {"configurationId": "c", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
                          "object": {"key": "in%2Fa+b.csv", "size": 7, "eTag": "0123-2", "versionId": "v1",
                                     "sequencer": "0018A1B2C3D4E5F607"}}}
    obj = s3_record(moto_record)["s3"]["object"]
    assert obj == {"key": "in/a+b.csv", "size": 7, "eTag": "0123-2", "versionId": "v1", "sequencer": "0018A1B2C3D4E5F607"}
    moto_record["s3"]["object"]["versionId"] = "null"  # an unversioned bucket's object
    assert list(s3_record(moto_record)["s3"]["object"]) == ["key", "size", "eTag", "sequencer"]


def _policy(conditions, expiration="2030-01-01T00:00:00Z"):
    import base64
    import json

    return base64.b64encode(json.dumps({"expiration": expiration, "conditions": conditions}).encode()).decode()


def _sigv4_form(policy, secret="s3cr3t", extra=()):
    import hashlib
    import hmac

    key = ("AWS4" + secret).encode()
    for part in ("20300101", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    return [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "AKID/20300101/us-east-1/s3/aws4_request"),
            ("X-Amz-Date", "20300101T000000Z"), ("Policy", policy), ("X-Amz-Signature", signature), *extra]


def test_post_policy_field_names_are_case_insensitive_and_values_are_not():
    conditions = [{"bucket": "b"}, ["starts-with", "$key", "in/"], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                  {"x-amz-credential": "AKID/20300101/us-east-1/s3/aws4_request"}, {"x-amz-date": "20300101T000000Z"},
                  ["starts-with", "$Content-Type", "image/"]]
    policy = _policy(conditions)
    secret_for = {"AKID": "s3cr3t"}.get

    def check(*extra, bucket="b"):
        return check_post(PostForm(_sigv4_form(policy, extra=extra), file_size=3), bucket, secret_for=secret_for)

    assert check(("KEY", "in/a.png"), ("content-type", "image/png")) is None
    assert check(("key", "in/a.png"), ("Content-Type", "image/png,image/jpeg")) is None  # each listed type
    assert check(("key", "in/a.png"), ("Content-Type", "image/png,text/html")).code == "AccessDenied"
    assert check(("key", "IN/a.png"), ("Content-Type", "image/png")).message.endswith('["starts-with", "$key", "in/"]')
    assert check(("key", "in/a.png"), ("Content-Type", "image/png"), bucket="other").message.endswith(
        '["eq", "$bucket", "b"]')
    assert check(("key", "in/a"), ("Key", "in/b"), ("Content-Type", "image/png")).code == "InvalidArgument"


def test_post_policy_signatures_are_checked_for_known_keys_only():
    policy = _policy([["starts-with", "$key", ""], {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                      {"x-amz-credential": "AKID/20300101/us-east-1/s3/aws4_request"},
                      {"x-amz-date": "20300101T000000Z"}])
    form = PostForm(_sigv4_form(policy, secret="another", extra=[("key", "in/a.csv")]), file_size=1)

    refused = check_post(form, "b", secret_for={"AKID": "s3cr3t"}.get)
    assert (refused.status, refused.code, refused.extra["AWSAccessKeyId"]) == (403, "SignatureDoesNotMatch", "AKID")
    assert check_post(form, "b", secret_for=lambda key: None) is None  # moto takes any credentials


def test_post_policy_documents_and_forms_aws_refuses():
    from datetime import UTC, datetime

    secret_for = {"AKID": "s3cr3t"}.get

    def refusal(policy, *extra, file_size=1, file_parts=1):
        form = PostForm(_sigv4_form(policy, extra=extra), file_size=file_size, file_parts=file_parts)
        found = check_post(form, "b", secret_for=secret_for, now=datetime(2029, 12, 31, tzinfo=UTC))
        return found and (found.status, found.code, found.message)

    signed = [{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": "AKID/20300101/us-east-1/s3/aws4_request"},
              {"x-amz-date": "20300101T000000Z"}]
    assert refusal("bm90IGpzb24=")[:2] == (400, "InvalidPolicyDocument")
    assert refusal(_policy([["matches", "$key", ".*"]]))[:2] == (400, "InvalidPolicyDocument")
    assert refusal(_policy(signed, expiration="2029-12-30T23:59:59Z")) == (
        403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert refusal(_policy(signed), ("key", "a"))[2] == "Invalid according to Policy: Extra input fields: key"
    assert refusal(_policy(signed), ("x-ignore-key", "a")) is None
    assert refusal(_policy([*signed, ["content-length-range", 2, 5]]), file_size=6)[:2] == (400, "EntityTooLarge")
    assert refusal(_policy([*signed, ["content-length-range", 2, 5]]), file_size=1)[:2] == (400, "EntityTooSmall")
    assert refusal(_policy([*signed, ["content-length-range", 2, 5]]), file_size=5) is None
    assert refusal(_policy(signed), file_size=None)[:2] == (400, "InvalidArgument")
    assert refusal(_policy(signed), file_parts=2)[:2] == (400, "InvalidArgument")
    no_policy = check_post(PostForm([("key", "a")], file_size=1), "b", secret_for=secret_for)
    assert (no_policy.status, no_policy.code) == (403, "AccessDenied")
