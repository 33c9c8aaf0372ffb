"""python -m bench [section ...] - runs the benchmarks and merges their figures into bench/results.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from bench import campaign, imports, ingest, kpis, payments, scale, visits

RESULTS = Path(__file__).resolve().parent / "results.json"
#: Figures measured by hand against `make serve` (bench/local_upload.py), kept when a section runs again.
HAND_MEASURED = "local_"
SECTIONS = {"cold_imports": imports.run, "ingest": ingest.run, "campaign": campaign.run, "visits": visits.run,
            "scale": scale.run, "payments": payments.run, "kpis": kpis.run}


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in wanted:
        print(f"[bench] {name} ...", flush=True)
        kept = {k: v for k, v in results.get(name, {}).items() if k.startswith(HAND_MEASURED)}
        results[name] = {**kept, **SECTIONS[name]()}
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"[bench] wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
