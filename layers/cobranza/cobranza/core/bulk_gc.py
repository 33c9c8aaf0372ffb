"""Garbage collection for the functions that work in bulk (a portfolio file, a night's part).

CPython's cyclic collector runs a pass every 700 net allocations of container objects, and a
full pass over every live object every ~70,000 of them, including everything a cold start
loads (botocore's service models, the modules). Ingestion makes and drops a few dicts for
every attribute of every row; reference counting frees them (they form no cycles), but they
still trigger the collector: 15 to 20 % of ingestion's time with the SDK (``bench/scale.py``,
20,000 rows, alternating runs with and without).

``tune()``, called once a function's modules are loaded, in a Lambda runtime only
(``AWS_LAMBDA_FUNCTION_NAME`` set: AWS, the local stack's workers, the benchmarks that stand for
them; never a test process, which imports handlers again and again):
- ``gc.collect()`` then ``gc.freeze()``: what the cold start made and keeps moves to the
  permanent generation, which the collector never scans again (collected first, so no garbage
  is frozen with it);
- the youngest generation collected every ``GEN0_THRESHOLD`` allocations instead of 700, so a
  pass runs once per couple of rows' garbage, not several times per row. Cyclic garbage waits
  longer before it is freed: at most that many objects, a few MB.

Called at import by the handler modules that run in bulk; the benchmarks that measure them
import those modules, so their figures are what those functions spend.
"""
from __future__ import annotations

import gc
import os

GEN0_THRESHOLD = 50_000


def tune() -> None:
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    gc.collect()
    gc.freeze()
    _gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
