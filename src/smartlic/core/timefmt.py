"""Time as SLP shows it. Core never reads the clock: every function takes epoch seconds (UTC).

Epoch seconds as integers are the one time type across smartlic (payloads, state, messages), so
no float or timezone ambiguity can creep into signed bytes; rendering happens only at the edge.
"""

from __future__ import annotations

from datetime import UTC, datetime

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def device_time(epoch: int | None, *, none: str = "<none>") -> str:
    """``Oct 14 12:10:32 2021 UTC``: the layout of ``show license status``."""
    if epoch is None:
        return none
    return _utc(epoch).strftime("%b %d %H:%M:%S %Y UTC")


def eventlog_time(epoch_ms: int) -> str:
    """``2021-11-17 03:31:32.921 UTC``: the layout of ``show license eventlog``."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{epoch_ms % 1000:03d} UTC"


def iso(epoch: int) -> str:
    """ISO 8601 in UTC, for JSON output and logs meant for machines."""
    return _utc(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_between(start: int, end: int) -> int:
    """Whole days from ``start`` to ``end``, rounded up: a deadline 1 s away is 1 day away."""
    delta = end - start
    return -((-delta) // DAY)
