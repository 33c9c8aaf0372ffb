"""The layout's promise (docs/architecture.md, "Where does X go"): every DynamoDB expression and
every S3 key layout lives in its capability's store. `make lint`'s import contracts keep the AWS
SDK out of the use cases; this keeps their request shapes out too."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "cobranza" / "cobranza"
#: The modules that talk to AWS (the stores, the channels' providers, core's clients).
STORES = {"accounts/store.py", "accounts/timeline.py", "accounts/alarms.py", "tenants/store.py", "campaign/store.py",
          "portfolio/uploads.py", "portfolio/files.py", "visits/store.py", "visits/agents.py", "visits/photos.py",
          "payments/store.py", "campaign/calls_store.py", "kpis/store.py", "alarms/store.py",
          "visits/tracks_store.py", "reports/store.py"}
REQUEST_SHAPES = re.compile(r"UpdateExpression|ConditionExpression|KeyConditionExpression|FilterExpression|"
                            r"TransactItems|ExclusiveStartKey|generate_presigned|\bBucket=|\bKey=")


def use_cases() -> list[str]:
    return sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                  if p.parts[-2] not in ("core", "channels") and str(p.relative_to(PACKAGE)) not in STORES)


@pytest.mark.parametrize("module", use_cases())
def test_no_request_shape_outside_the_stores(module):
    found = [f"{number}: {line.strip()}" for number, line in
             enumerate((PACKAGE / module).read_text(encoding="utf-8").splitlines(), 1) if REQUEST_SHAPES.search(line)]
    assert not found, f"{module} builds AWS requests itself; move them to its capability's store:\n" + "\n".join(found)


def test_the_store_list_names_real_modules():
    assert all((PACKAGE / store).exists() for store in STORES)
