"""python -m infra.admin - create tenants (and their API keys) on the local or deployed stack.

    python -m infra.admin tenant create <tenant_id> [--name NAME] [--notify EMAIL]... [--timezone TZ]
        -> {"tenant_id": ..., "api_key": ...}   (the key is shown once; only its hash is stored)
    python -m infra.admin tenant key <tenant_id>
        -> {"tenant_id": ..., "api_key": ...}   (an additional key)
    python -m infra.admin agent create <tenant_id> <email> --password PW [--supervisor]
            [--home LAT,LON] [--zone Z]... [--capacity N] [--name NAME]
        -> {"agent_id", "username", "user_pool_id", "client_id", ...}   (sign in with USER_PASSWORD_AUTH)
    python -m infra.admin accounts reindex [<tenant_id>]
        -> {"tenants": {<tenant_id>: {"accounts_read", "accounts_reindexed"}}}   (docs/deploy.md)
    python -m infra.admin accounts copy --from-table TABLE [--segment I --total-segments N]
        -> {"accounts_read", "accounts_written"}   (the accounts table's key migration, docs/deploy.md)
    python -m infra.admin alarms reindex [<tenant_id>]
        -> {"tenants": {<tenant_id>: {"alarms_read", "alarms_reindexed"}}}   (alarms stored before issue 16)
    python -m infra.admin kpis rebuild-level [<tenant_id>]
        -> {"tenants": {<tenant_id>: {"accounts_read", "level_values"}}}   (the KPIs' portfolio level, counted again)

Target: the running local stack (make serve) when there is one, else the CloudFormation stack
named by --stack-name (default: $COBRANZA_STACK or "cobranza") with your AWS credentials.
--stack-name and --endpoint-url go anywhere on the line (before `tenant`, or after the arguments).
"""
from __future__ import annotations

from infra._venv import ensure_venv

ensure_venv("infra.admin", ("boto3", "pynamodb", "aws_lambda_powertools"))

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from infra.admin import commands  # noqa: E402
from infra.admin.target import resolve  # noqa: E402


def _target_options(defaults: bool) -> argparse.ArgumentParser:
    """The global options (where the command acts), accepted before the group, after it or after
    the action: `--endpoint-url URL tenant create t1` = `tenant create t1 --endpoint-url URL`. Only
    the top-level parser sets the defaults, so a later parser never erases a value given earlier."""
    options = argparse.ArgumentParser(add_help=False)
    unset = {} if defaults else {"default": argparse.SUPPRESS}
    options.add_argument("--stack-name", help="deployed CloudFormation stack (default: the local stack if running)",
                         **unset)
    options.add_argument("--endpoint-url", help="local AWS endpoint (default: from .local/stack.json)", **unset)
    return options


def build_parser() -> argparse.ArgumentParser:
    anywhere = [_target_options(defaults=False)]
    parser = argparse.ArgumentParser(prog="python -m infra.admin", description=__doc__, parents=[_target_options(True)],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = parser.add_subparsers(dest="group", required=True)

    tenant = groups.add_parser("tenant", help="tenants and API keys", parents=anywhere).add_subparsers(
        dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant and its first API key", parents=anywhere)
    create.add_argument("tenant_id")
    create.add_argument("--name")
    create.add_argument("--notify", action="append", default=[], metavar="EMAIL",
                        help="address for visit results and alarms (repeatable)")
    create.add_argument("--timezone", default="America/Mexico_City", help="IANA zone of the tenant's 'today'")
    key = tenant.add_parser("key", help="issue an additional API key", parents=anywhere)
    key.add_argument("tenant_id")

    agent = groups.add_parser("agent", help="field agents (Cognito users)", parents=anywhere).add_subparsers(
        dest="action", required=True)
    create_agent = agent.add_parser("create", help="create a field agent (or supervisor) of a tenant", parents=anywhere)
    create_agent.add_argument("tenant_id")
    create_agent.add_argument("email")
    create_agent.add_argument("--password", required=True, help="at least 10 characters, upper and lower case, a digit")
    create_agent.add_argument("--supervisor", action="store_true", help="also sees every visit and agent of the tenant")
    create_agent.add_argument("--home", metavar="LAT,LON", help="home base: where routes start and assignment measures from")
    create_agent.add_argument("--zone", action="append", default=[], metavar="Z",
                              help="a state, city, postal code or postal prefix like 06* (repeatable; none = everywhere)")
    create_agent.add_argument("--capacity", type=int, help="visits a day (default: the policy's, 12)")
    create_agent.add_argument("--name", help="display name")

    accounts = groups.add_parser("accounts", help="accounts maintenance", parents=anywhere).add_subparsers(
        dest="action", required=True)
    reindex = accounts.add_parser("reindex", help="give accounts stored before the list indexes their keys",
                                  parents=anywhere)
    reindex.add_argument("tenant_id", nargs="?", help="one tenant (default: every tenant)")
    copy = accounts.add_parser("copy", help="copy the accounts of a table of an earlier key schema into the stack's",
                               parents=anywhere)
    copy.add_argument("--from-table", required=True, help="the old accounts table (kept when the stack replaced it)")
    copy.add_argument("--segment", type=int, default=0, help="this scan segment (run several side by side)")
    copy.add_argument("--total-segments", type=int, default=1, help="how many segments the copy is cut into")
    alarms = groups.add_parser("alarms", help="alarms maintenance", parents=anywhere).add_subparsers(
        dest="action", required=True)
    alarms_reindex = alarms.add_parser("reindex", help="give alarms stored before the alarm lists their keys",
                                       parents=anywhere)
    alarms_reindex.add_argument("tenant_id", nargs="?", help="one tenant (default: every tenant)")
    kpis = groups.add_parser("kpis", help="KPI maintenance", parents=anywhere).add_subparsers(
        dest="action", required=True)
    rebuild = kpis.add_parser("rebuild-level", help="count the portfolio's level (the KPIs' denominators) again "
                                                    "from the accounts", parents=anywhere)
    rebuild.add_argument("tenant_id", nargs="?", help="one tenant (default: every tenant)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    target = resolve(args.stack_name, args.endpoint_url)
    try:
        if args.group == "tenant" and args.action == "create":
            result = commands.create_tenant(target, args.tenant_id, args.name, args.notify, args.timezone)
        elif args.group == "tenant" and args.action == "key":
            result = commands.issue_key(target, args.tenant_id)
        elif args.group == "accounts" and args.action == "reindex":
            result = commands.reindex_accounts(target, args.tenant_id)
        elif args.group == "accounts" and args.action == "copy":
            result = commands.copy_accounts(target, args.from_table, args.segment, args.total_segments)
        elif args.group == "alarms" and args.action == "reindex":
            result = commands.reindex_alarms(target, args.tenant_id)
        elif args.group == "kpis" and args.action == "rebuild-level":
            result = commands.rebuild_kpi_level(target, args.tenant_id)
        elif args.group == "agent" and args.action == "create":
            result = commands.create_agent(target, args.tenant_id, args.email, args.password, args.supervisor,
                                           args.home, args.zone, args.capacity, args.name)
        else:  # pragma: no cover - argparse enforces the choices
            raise SystemExit(2)
    except commands.AdminError as exc:
        print(json.dumps({"error": {"code": exc.code, "message": str(exc)}}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
