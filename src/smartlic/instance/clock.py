"""The instance's clock: every time the agent uses comes from here (ADR 0003).

``set(epoch)`` is the ``clock set`` command (a clock change: listeners are told, and the agent
raises ``%SMART_LIC-5-SYSTEM_CLOCK_CHANGED``); ``advance(seconds)`` is time passing, which a test
or the lab uses to run a year in seconds. ``SystemClock`` is the host time plus an offset (each
emulated device can have its own skew); ``ManualClock`` only moves when told to.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

ClockListener = Callable[[int, int], None]
"""Called with (old, new) epoch seconds after ``set``."""


class Clock:
    """Base class: subclasses provide ``_read`` and ``_shift``."""

    def __init__(self) -> None:
        self._listeners: list[ClockListener] = []

    def _read_ms(self) -> int:
        raise NotImplementedError

    def _shift(self, seconds: int) -> None:
        raise NotImplementedError

    def now(self) -> int:
        """Epoch seconds (UTC)."""
        return self._read_ms() // 1000

    def now_ms(self) -> int:
        """Epoch milliseconds, for event-log and console timestamps."""
        return self._read_ms()

    def subscribe(self, listener: ClockListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: ClockListener) -> None:
        """A closed agent must not hear of later clock changes (its state is closed)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def set(self, epoch: int) -> None:
        """``clock set``: the clock jumps to ``epoch``; listeners hear of it."""
        old = self.now()
        self._shift(epoch - old)
        for listener in list(self._listeners):
            listener(old, self.now())

    def advance(self, seconds: int) -> None:
        """Time passes (not a clock change). Only meaningful for a manual clock."""
        self._shift(seconds)


class SystemClock(Clock):
    """Host time plus ``offset`` seconds."""

    def __init__(self, offset: int = 0, *, source: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.offset = offset
        self._source = source

    def _read_ms(self) -> int:
        return int(self._source() * 1000) + self.offset * 1000

    def _shift(self, seconds: int) -> None:
        self.offset += seconds


class ManualClock(Clock):
    """A clock that stands still until ``advance`` or ``set`` moves it."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self._ms = start * 1000

    def _read_ms(self) -> int:
        return self._ms

    def _shift(self, seconds: int) -> None:
        self._ms += seconds * 1000

    def tick_ms(self, ms: int = 1) -> None:
        """Move by milliseconds (keeps event-log lines in order in tight test loops)."""
        self._ms += ms
