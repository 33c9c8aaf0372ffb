"""core.bulk_gc: the bulk functions' collector settings (what their handlers call at import)."""
import gc

from cobranza.core import bulk_gc


def test_tune_freezes_what_is_loaded_and_collects_the_young_generation_less_often(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "cobranza-ingest")
    before = gc.get_threshold()
    try:
        bulk_gc.tune()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (bulk_gc.GEN0_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_outside_a_lambda_runtime_it_changes_nothing(monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    bulk_gc.tune()
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
