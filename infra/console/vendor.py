"""Vendors the console's pinned npm libraries into functions/console/static/vendor/ (`make console`).

Exactly what infra/console/package-lock.json pins: each package's tarball is fetched from the npm
registry (`NPM_CONFIG_REGISTRY`, default registry.npmjs.org) and checked against the lock's
`integrity` (SHA-512) before anything is read from it; only the built files the page loads, with
their licences, are copied. No npm, no install scripts, and nothing is fetched from a CDN when
the console runs: the page loads these copies from the stack itself.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGET = ROOT / "functions" / "console" / "static" / "vendor"
LOCK = HERE / "package-lock.json"
#: package -> [(file in the package, name in vendor/)]
FILES = {
    "leaflet": [("dist/leaflet.js", "leaflet.js"), ("dist/leaflet.css", "leaflet.css"), ("LICENSE", "LICENSE-leaflet.txt")],
    "chart.js": [("dist/chart.umd.min.js", "chart.umd.min.js"), ("LICENSE.md", "LICENSE-chart.js.md")],
    "@kurkle/color": [("LICENSE.md", "LICENSE-kurkle-color.md")],  # bundled into chart.umd.min.js
}


def tarball_url(registry: str, package: str, version: str) -> str:
    """The registry's address of a package's tarball (a scoped name keeps its scope in the path only)."""
    return f"{registry.rstrip('/')}/{package}/-/{package.rsplit('/', 1)[-1]}-{version}.tgz"


def checked(data: bytes, integrity: str) -> bytes:
    """``data`` when its SHA-512 is the lock's ``integrity`` (``sha512-<base64>``); else it stops."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or base64.b64encode(hashlib.sha512(data).digest()).decode() != expected:
        raise SystemExit(f"integrity check failed ({integrity[:20]}...): not the tarball the lock pins")
    return data


def main() -> int:
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or "https://registry.npmjs.org"
    pinned = json.loads(LOCK.read_text(encoding="utf-8"))["packages"]
    if TARGET.exists():
        shutil.rmtree(TARGET)
    TARGET.mkdir(parents=True)
    versions = {}
    for package, files in FILES.items():
        entry = pinned[f"node_modules/{package}"]
        url = entry.get("resolved") or tarball_url(registry, package, entry["version"])
        with urllib.request.urlopen(url, timeout=60) as response:  # nosec B310  # an https registry URL from the lock
            archive = checked(response.read(), entry["integrity"])
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for source, name in files:
                member = tar.extractfile(f"package/{source}")
                if member is None:
                    raise SystemExit(f"{package} {entry['version']} has no {source}")
                (TARGET / name).write_bytes(member.read())
        versions[package] = entry["version"]
    (TARGET / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    print(f"console assets: {', '.join(f'{k} {v}' for k, v in versions.items())} -> {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
