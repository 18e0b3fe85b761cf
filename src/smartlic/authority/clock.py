"""Clocks for the authority: services never read the time themselves (ADR 0003)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int: ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


@dataclass
class FixedClock:
    """A settable clock for tests and the lab."""

    value: int

    def now(self) -> int:
        return self.value

    def advance(self, seconds: int) -> None:
        self.value += seconds
