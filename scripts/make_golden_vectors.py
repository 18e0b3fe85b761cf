"""Rewrite tests/golden/vectors/ from tests/vectors.py.

Run this only on purpose (``make golden``), when a format change is intended: the golden test
fails whenever today's code no longer produces the checked-in bytes, and that failure is the
point — a silent format change would strand every file already in the field.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import vectors  # noqa: E402

OUT = ROOT / "tests" / "golden" / "vectors"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    world = vectors.build()
    for name, data in sorted(world.files.items()):
        (OUT / name).write_bytes(data)
        print(f"wrote {OUT.relative_to(ROOT) / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
