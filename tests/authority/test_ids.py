"""Row ids: random version-4 UUIDs in their usual text form, made in Python."""

from __future__ import annotations

import uuid

from smartlic.authority.db import new_id, new_ids


def test_ids_are_version_4_uuids_in_canonical_text() -> None:
    for text in [*new_ids(500), new_id()]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_ids_do_not_repeat() -> None:
    ids = new_ids(5000)
    assert len(set(ids)) == 5000
    assert new_ids(0) == []
