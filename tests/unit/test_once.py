"""``core.once``: computed once per instance, kept, and safe on frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from smartlic.core.once import once


@dataclass(frozen=True)
class Box:
    value: int
    calls: list[int]

    @once
    def doubled(self) -> int:
        """Twice the value."""
        self.calls.append(1)
        return self.value * 2


def test_computed_on_first_access_and_kept() -> None:
    box = Box(3, [])
    assert box.doubled == 6
    assert box.doubled == 6
    assert box.calls == [1]


def test_kept_per_instance_and_outside_equality() -> None:
    calls: list[int] = []
    a, b = Box(1, calls), Box(1, calls)
    assert a.doubled == 2
    assert a == b  # the kept value is not a field
    assert b.doubled == 2
    assert calls == [1, 1]


def test_the_class_attribute_is_the_descriptor() -> None:
    assert isinstance(Box.__dict__["doubled"], once)
    assert Box.doubled.__doc__ == "Twice the value."
