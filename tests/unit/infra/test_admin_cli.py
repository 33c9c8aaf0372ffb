"""`python -m infra.admin`'s command line: the documented interface, with the global options
(`--endpoint-url`, `--stack-name`) accepted anywhere on the line."""

from __future__ import annotations

import json

import pytest

from infra.admin import __main__ as admin

TENANT_CREATE = ["tenant", "create", "acme", "--name", "Acme", "--notify", "a@acme.example", "--notify",
                 "b@acme.example", "--timezone", "America/Bogota"]


@pytest.mark.parametrize("argv", [
    ["--endpoint-url", "http://127.0.0.1:9"] + TENANT_CREATE,
    TENANT_CREATE + ["--endpoint-url", "http://127.0.0.1:9"],
    TENANT_CREATE[:1] + ["--endpoint-url", "http://127.0.0.1:9"] + TENANT_CREATE[1:],
    TENANT_CREATE[:3] + ["--endpoint-url=http://127.0.0.1:9"] + TENANT_CREATE[3:],
])
def test_the_endpoint_url_goes_anywhere_on_the_line(argv):
    args = admin.build_parser().parse_args(argv)

    assert (args.endpoint_url, args.stack_name) == ("http://127.0.0.1:9", None)
    assert (args.group, args.action, args.tenant_id, args.name, args.notify, args.timezone) == (
        "tenant", "create", "acme", "Acme", ["a@acme.example", "b@acme.example"], "America/Bogota")


@pytest.mark.parametrize("argv", [
    ["--stack-name", "cobranza-prod", "tenant", "key", "acme"],
    ["tenant", "key", "acme", "--stack-name", "cobranza-prod"],
    ["agent", "create", "acme", "ana@acme.example", "--password", "Campo2026seguro", "--stack-name", "cobranza-prod"],
    ["agent", "--stack-name", "cobranza-prod", "create", "acme", "ana@acme.example", "--password", "Campo2026seguro"],
])
def test_the_stack_name_goes_anywhere_on_the_line(argv):
    args = admin.build_parser().parse_args(argv)

    assert (args.stack_name, args.endpoint_url, args.tenant_id) == ("cobranza-prod", None, "acme")


def test_without_the_global_options_they_default_to_none():
    args = admin.build_parser().parse_args(["tenant", "create", "acme"])

    assert (args.stack_name, args.endpoint_url, args.name, args.notify, args.timezone) == (
        None, None, None, [], "America/Mexico_City")


def test_a_later_option_does_not_erase_an_earlier_one_and_the_last_value_wins():
    parser = admin.build_parser()

    early = parser.parse_args(["--stack-name", "one", "tenant", "key", "acme", "--endpoint-url", "http://h:1"])
    twice = parser.parse_args(["--stack-name", "one", "tenant", "key", "acme", "--stack-name", "two"])

    assert (early.stack_name, early.endpoint_url) == ("one", "http://h:1")
    assert twice.stack_name == "two"


@pytest.mark.parametrize("argv", [
    ["tenant", "create"],                                  # the tenant id is required
    ["tenant", "create", "acme", "--unknown", "x"],
    ["tenant", "create", "acme", "--endpoint-url"],        # the option needs its value
    ["agent", "create", "acme", "ana@acme.example"],       # --password is required
])
def test_what_the_interface_does_not_accept_is_still_refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        admin.build_parser().parse_args(argv)

    assert exit_info.value.code == 2
    assert "usage: python -m infra.admin" in capsys.readouterr().err


def test_main_acts_on_the_target_the_options_name_and_prints_json(monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(admin, "resolve", lambda stack_name, endpoint_url: seen.update(
        stack_name=stack_name, endpoint_url=endpoint_url) or "target")
    monkeypatch.setattr(admin.commands, "create_tenant", lambda target, tenant_id, name, notify, timezone: {
        "target": target, "tenant_id": tenant_id, "name": name, "notify": notify, "timezone": timezone})

    code = admin.main(["tenant", "create", "acme", "--notify", "ops@acme.example", "--endpoint-url", "http://127.0.0.1:9"])

    assert code == 0
    assert seen == {"stack_name": None, "endpoint_url": "http://127.0.0.1:9"}
    assert json.loads(capsys.readouterr().out) == {"target": "target", "tenant_id": "acme", "name": None,
                                                   "notify": ["ops@acme.example"], "timezone": "America/Mexico_City"}


def test_accounts_copy_takes_the_old_table_and_an_optional_scan_segment():
    """docs/deploy.md's key migration: `accounts copy --from-table OLD [--segment I --total-segments N]`."""
    parser = admin.build_parser()

    whole = parser.parse_args(["accounts", "copy", "--from-table", "cobranza-AccountsTable-OLD", "--stack-name", "prod"])
    segment = parser.parse_args(["accounts", "copy", "--from-table", "old", "--segment", "3", "--total-segments", "8"])

    assert (whole.action, whole.from_table, whole.segment, whole.total_segments, whole.stack_name) == (
        "copy", "cobranza-AccountsTable-OLD", 0, 1, "prod")
    assert (segment.segment, segment.total_segments) == (3, 8)
    with pytest.raises(SystemExit):
        parser.parse_args(["accounts", "copy"])  # the old table is required
