"""The console's vendored libraries are exactly what the lock pins (infra/console/vendor.py)."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from infra.console import vendor


def test_tarball_addresses_follow_the_registry_layout():
    assert vendor.tarball_url("https://registry.npmjs.org", "leaflet", "1.9.4") == \
        "https://registry.npmjs.org/leaflet/-/leaflet-1.9.4.tgz"
    assert vendor.tarball_url("https://r.example/", "@kurkle/color", "0.3.4") == \
        "https://r.example/@kurkle/color/-/color-0.3.4.tgz"


def test_a_tarball_is_used_only_when_its_sha512_is_the_locks():
    data = b"the package"
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert vendor.checked(data, integrity) == data
    with pytest.raises(SystemExit):
        vendor.checked(data + b"!", integrity)
    with pytest.raises(SystemExit):
        vendor.checked(data, "sha1-" + base64.b64encode(hashlib.sha1(data).digest()).decode())  # nosec B324


def test_every_vendored_package_is_pinned_with_its_integrity():
    pinned = json.loads(vendor.LOCK.read_text(encoding="utf-8"))["packages"]
    for package in vendor.FILES:
        entry = pinned[f"node_modules/{package}"]
        assert entry["version"] and entry["integrity"].startswith("sha512-")
    assert json.loads((vendor.HERE / "package.json").read_text())["dependencies"] == {"chart.js": "4.5.1", "leaflet": "1.9.4"}
