"""The compile progress bar ends at its total ("Compiling: 34/34"), not past it ("35/34").

Reflex 0.10.1's `compile_app` (reflex/compiler/compiler.py) sizes the bar as two steps per page
plus `fixed_steps = 7` plus one per plugin, then advances it eight times outside the page loop (the
sticky-badge step was added without raising `fixed_steps`). Nothing is skipped: the count is
simply one short. The bar's total is raised by that one missing step, for the "Compiling:" task
only and only on the Reflex version that has the bug, so any other progress bar, and a Reflex
that counts right, are left alone. rxconfig.py installs it, before Reflex compiles.
"""

from __future__ import annotations

from typing import Any

COMPILE_TASK = "Compiling:"
MISCOUNTED_VERSIONS = ("0.10.1",)  # tests/unit/test_prod_console_log.py fails when this goes stale
MISSING_STEPS = 1


def _with_corrected_total(bar: Any) -> Any:
    add_task = bar.add_task

    def add_task_counting_every_step(description: str, *args: Any, **kwargs: Any) -> Any:
        if description == COMPILE_TASK and isinstance(kwargs.get("total"), int):
            kwargs["total"] += MISSING_STEPS
        return add_task(description, *args, **kwargs)

    bar.add_task = add_task_counting_every_step
    return bar


def install() -> None:
    try:
        from importlib.metadata import version

        from reflex.utils import console as reflex_console
        from reflex_base.utils import console as base_console
    except ImportError:  # the service layer's tests and the CLI run without Reflex's compiler
        return
    if version("reflex") not in MISCOUNTED_VERSIONS:
        return
    original = base_console.progress
    if getattr(original, "_apikeys_counted", False):
        return

    def progress() -> Any:
        return _with_corrected_total(original())

    progress._apikeys_counted = True  # type: ignore[attr-defined]
    # `compile_app` calls `console.progress()` through reflex.utils.console, which re-exports
    # reflex_base's function: both names are rebound so every caller gets the corrected bar.
    base_console.progress = progress
    reflex_console.progress = progress
    original_poor = base_console.PoorProgress.add_task
    if not getattr(original_poor, "_apikeys_counted", False):

        def poor_add_task(self: Any, task: str, total: int) -> Any:
            return original_poor(self, task, total + MISSING_STEPS if task == COMPILE_TASK else total)

        poor_add_task._apikeys_counted = True  # type: ignore[attr-defined]
        base_console.PoorProgress.add_task = poor_add_task  # type: ignore[method-assign]
