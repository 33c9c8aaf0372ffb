"""`python -m infra.local serve|invoke|demo` (see `infra/local/cli.py`)."""

import sys

from infra._venv import ensure_venv


def main() -> int:
    ensure_venv("infra.local", required=("boto3", "moto", "werkzeug", "yaml"))
    from infra.local.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
