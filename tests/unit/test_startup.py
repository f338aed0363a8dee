"""The collector settings the server applies at import (rxapp/startup.py)."""

from __future__ import annotations

import gc

from rxapp import startup


def test_the_youngest_generation_is_collected_less_often_and_the_import_is_frozen() -> None:
    threshold = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    made_at_import = [[] for _ in range(10)]  # containers, as an import makes
    try:
        startup.tune_garbage_collector()
        assert gc.get_threshold() == (startup.GC_FIRST_GENERATION, threshold[1], threshold[2])
        assert gc.get_freeze_count() >= frozen_before + 10
        assert made_at_import
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
