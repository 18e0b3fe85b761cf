"""Row ids: time-ordered version-7 UUIDs in their usual text form, made in Python (ADR 0014)."""

from __future__ import annotations

import time
import uuid

from smartlic.authority.db import new_id, new_ids


def test_ids_are_version_7_uuids_in_canonical_text() -> None:
    for text in [*new_ids(500), new_id()]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == text


def test_ids_carry_the_millisecond_they_were_made() -> None:
    before = time.time_ns() // 1_000_000
    ids = new_ids(3)
    after = time.time_ns() // 1_000_000
    for text in ids:
        stamp = uuid.UUID(text).int >> 80
        assert before <= stamp <= after


def test_later_ids_sort_after_earlier_ones() -> None:
    earlier = new_ids(100)
    time.sleep(0.002)
    later = new_ids(100)
    assert max(earlier) < min(later)


def test_ids_do_not_repeat() -> None:
    ids = new_ids(5000)
    assert len(set(ids)) == 5000
    assert new_ids(0) == []
