"""The usage chart's geometry and words (portal/chart.py): what the template draws as it is."""

from __future__ import annotations

from smartlic.authority.portal.chart import HEIGHT, LEFT, WIDTH, usage_chart
from smartlic.authority.usage.history import Point, Series
from smartlic.core.timefmt import DAY

T = 1_764_000_000


def test_no_usage_is_said_in_words() -> None:
    chart = usage_chart("c", "Licenses in use over time: Lab", [])
    assert chart.lines == () and chart.rows == ()
    assert chart.desc == "No usage has been reported yet."


def test_step_lines_scaled_to_whole_number_gridlines() -> None:
    series = [
        Series("dna-advantage", (Point(T, 1), Point(T + 10 * DAY, 7))),
        Series("network-advantage", (Point(T, 2), Point(T + 10 * DAY, 2))),
    ]
    chart = usage_chart("c", "t", series)
    right, bottom = WIDTH - 180, HEIGHT - 34
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert [t.label for t in chart.x_ticks] == ["2025-11-24", "2025-12-04"]
    dna = chart.lines[0]
    # Holds 1 until the second report, then steps up to 7 and runs to the right edge.
    y1 = round(bottom - 1 / 8 * (bottom - 14), 1)
    y7 = round(bottom - 7 / 8 * (bottom - 14), 1)
    assert dna.points == f"{LEFT}.0,{y1} {right}.0,{y1} {right}.0,{y7} {right},{y7}"
    # Told apart without colour: each line has its own dash pattern.
    assert len({(line.color, line.dash) for line in chart.lines}) == 2
    assert chart.lines[0].dash != chart.lines[1].dash
    assert chart.desc == (
        "dna-advantage: 7 in use on 2025-12-04 (lowest 1, highest 7 since 2025-11-24); "
        "network-advantage: 2 in use on 2025-12-04 (lowest 2, highest 2 since 2025-11-24)."
    )
    assert [(r.license_name, r.count) for r in chart.rows] == [
        ("dna-advantage", 1),
        ("dna-advantage", 7),
        ("network-advantage", 2),
        ("network-advantage", 2),
    ]
    assert chart.rows[0].when == "2025-11-24 16:00:00 UTC"


def test_one_report_draws_a_flat_line_and_hours_on_short_spans() -> None:
    chart = usage_chart("c", "t", [Series("hseck9", (Point(T, 0),))])
    assert chart.lines[0].points.endswith(f"{WIDTH - 180},{HEIGHT - 34}.0")
    short = usage_chart("c", "t", [Series("x", (Point(T, 1), Point(T + 3600, 2)))])
    assert [t.label for t in short.x_ticks] == ["11-24 16:00", "11-24 17:00"]
