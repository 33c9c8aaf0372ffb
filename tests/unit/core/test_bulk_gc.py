"""core.bulk_gc: the bulk functions' collector settings (what their handlers call at import)."""
import gc

from cobranza.core import bulk_gc


def test_tune_freezes_what_is_loaded_and_collects_the_young_generation_less_often():
    before = gc.get_threshold()
    try:
        bulk_gc.tune()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (bulk_gc.GEN0_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
