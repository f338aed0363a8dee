"""The accessibility audit: axe-core (pinned in scripts/lib/axe, installed by scripts/test into
.tools/axe, its path in AXE_PATH) injected into the page as it is, reporting the critical and
serious violations of WCAG 2.x A/AA rules."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.conftest import ROOT

_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations
    .filter((v) => v.impact === 'critical' || v.impact === 'serious')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}"""


@lru_cache(maxsize=1)
def _axe_source() -> str:
    path = Path(os.environ.get("AXE_PATH") or ROOT / ".tools/axe/node_modules/axe-core/axe.min.js")
    if not path.exists():
        pytest.fail(f"axe-core not found at {path}: run the suite through scripts/test, which installs it")
    return path.read_text()


_STILL = """() => document.getAnimations().every(
  (a) => a.playState !== 'running' || a.effect?.getComputedTiming().iterations === Infinity)"""


def serious_violations(page: Page) -> list[str]:
    """Every critical or serious axe violation on the page once its finite animations have ended
    (dialogs included): mid-fade, text is judged at a fraction of its opacity."""
    page.wait_for_function(_STILL, timeout=30_000)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=_axe_source())
    return page.evaluate(_RUN)
