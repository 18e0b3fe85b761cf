"""Rewrite tests/golden/shell/ (our own ``show`` output per state) from tests/shell/states.py.

Run only on purpose, when an output layout change is intended: tests/shell/test_golden.py fails
whenever today's output differs from the checked-in files, and the diff is the review.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.shell.goldens import GOLDEN_DIR, render_all  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = render_all(Path(tmp))
    if GOLDEN_DIR.exists():
        shutil.rmtree(GOLDEN_DIR)
    for name, text in sorted(files.items()):
        path = GOLDEN_DIR / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(files)} files under {GOLDEN_DIR.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
