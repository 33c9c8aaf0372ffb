"""Vendors the console's pinned npm libraries into functions/console/static/vendor/ (`make console`).

`npm ci` installs exactly what infra/console/package-lock.json pins (no install scripts run);
only the built files the page loads, with their licences, are copied. Nothing is fetched from a
CDN when the console runs: the page loads these copies from the stack itself.
"""
from __future__ import annotations

import json
import shutil
import subprocess  # nosec B404  # runs npm, a fixed command line
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TARGET = ROOT / "functions" / "console" / "static" / "vendor"
#: package -> [(file in the package, name in vendor/)]
FILES = {
    "leaflet": [("dist/leaflet.js", "leaflet.js"), ("dist/leaflet.css", "leaflet.css"), ("LICENSE", "LICENSE-leaflet.txt")],
    "chart.js": [("dist/chart.umd.min.js", "chart.umd.min.js"), ("LICENSE.md", "LICENSE-chart.js.md")],
    "@kurkle/color": [("LICENSE.md", "LICENSE-kurkle-color.md")],  # bundled into chart.umd.min.js
}


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("npm is required to build the console's assets (apt-get install npm)", file=sys.stderr)
        return 1
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],  # nosec B603
                   cwd=HERE, check=True)
    if TARGET.exists():
        shutil.rmtree(TARGET)
    TARGET.mkdir(parents=True)
    versions = {}
    for package, files in FILES.items():
        folder = HERE / "node_modules" / package
        versions[package] = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
        for source, name in files:
            shutil.copyfile(folder / source, TARGET / name)
    (TARGET / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    print(f"console assets: {', '.join(f'{k} {v}' for k, v in versions.items())} -> {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
