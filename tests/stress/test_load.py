"""The load test, small and bounded: a utility and an authority (real processes, real HTTP)
under concurrent push from hundreds of emulated instances while a portal user reads pages.

Asserts what must hold at any size — no error, no loss, every report acknowledged exactly once,
the authority's and the utility's stored counts equal to what was sent — never a timing; the
latencies it records are for ``bench/load.py`` and docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench import load

INSTANCES = 200
REPORTS = 2


@pytest.mark.timeout(180)
def test_sustained_push_with_portal_reads_loses_nothing(tmp_path: Path) -> None:
    result = load.run(
        instances=INSTANCES, reports=REPORTS, concurrency=40, readers=1, timeout=90, root=tmp_path
    )
    figures = result.figures
    assert result.problems == []
    sent = INSTANCES * REPORTS
    assert figures["errors"] == 0
    assert figures["acks_verified"] == INSTANCES
    assert figures["reports_acked_once"] == sent
    assert figures["authority_reports"] == sent
    assert figures["authority_instances"] == INSTANCES
    assert figures["utility_reports"] == sent
    assert figures["portal_pages"] > 0
