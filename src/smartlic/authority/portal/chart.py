"""The geometry of the usage-over-time chart, computed here so the template only draws it.

A step line per license (a count holds until the next report changes it), each with its own
colour *and* dash pattern so the lines differ without colour; the ``<title>``/``<desc>`` and
the data table say in words what the picture shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from smartlic.authority.usage.history import Series
from smartlic.core.timefmt import DAY, iso

WIDTH = 760
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 180, 14, 34
STYLES = (
    ("#0b5a93", ""),
    ("#c2410c", "6 3"),
    ("#15803d", "2 3"),
    ("#7e22ce", "8 3 2 3"),
    ("#b91c1c", "4 4"),
    ("#0f766e", "10 4"),
    ("#4d7c0f", "1 2"),
    ("#1e293b", "12 3 3 3"),
)


@dataclass(frozen=True)
class Line:
    license_name: str
    color: str
    dash: str
    points: str
    latest: int
    legend_y: int


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class Row:
    when: str
    license_name: str
    count: int


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    desc: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    rows: tuple[Row, ...]


def _label(at: int, span: int) -> str:
    text = iso(at)
    return text[:10] if span >= 2 * DAY else text[5:16].replace("T", " ")


def usage_chart(chart_id: str, title: str, series: list[Series]) -> Chart:
    """The chart of ``series`` (``history.UsageHistory``); no series gives an empty chart
    whose description says so."""
    right = WIDTH - RIGHT
    bottom = HEIGHT - BOTTOM
    times = sorted({p.at for s in series for p in s.points})
    if not times:
        return Chart(
            chart_id, title, "No usage has been reported yet.", WIDTH, HEIGHT,
            LEFT, right, TOP, bottom, (), (), (), (),
        )  # fmt: skip
    start, end = times[0], times[-1]
    span = end - start
    # Four whole-number steps up to the highest count: gridlines at readable values.
    step = max(1, -(-max([1, *(p.count for s in series for p in s.points)]) // 4))
    ceiling = step * 4

    def x(at: int) -> float:
        if not span:
            return float(LEFT)
        return round(LEFT + (at - start) / span * (right - LEFT), 1)

    def y(count: int) -> float:
        return round(bottom - count / ceiling * (bottom - TOP), 1)

    lines = []
    for index, s in enumerate(series):
        color, dash = STYLES[index % len(STYLES)]
        coords: list[str] = []
        previous: float | None = None
        for p in s.points:
            if previous is not None:
                coords.append(f"{x(p.at)},{previous}")
            previous = y(p.count)
            coords.append(f"{x(p.at)},{previous}")
        coords.append(f"{right},{previous}")
        lines.append(
            Line(s.license_name, color, dash, " ".join(coords), s.latest, TOP + 10 + index * 18)
        )
    x_ticks = [Tick(x(start), _label(start, span))]
    if span:
        x_ticks.append(Tick(x(end), _label(end, span)))
    y_ticks = tuple(Tick(y(step * i), str(step * i)) for i in range(5))
    since = _label(start, span)
    desc = "; ".join(
        f"{s.license_name}: {s.latest} in use on {_label(end, span)}"
        f" (lowest {min(p.count for p in s.points)}, highest {max(p.count for p in s.points)}"
        f" since {since})"
        for s in series
    )
    rows = tuple(
        Row(iso(p.at).replace("T", " ").removesuffix("Z") + " UTC", s.license_name, p.count)
        for s in series
        for p in s.points
    )
    return Chart(
        chart_id, title, desc + ".", WIDTH, HEIGHT, LEFT, right, TOP, bottom,
        tuple(lines), tuple(x_ticks), y_ticks, rows,
    )  # fmt: skip
