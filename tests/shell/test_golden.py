"""Today's ``show`` output equals the checked-in goldens (scripts/make_shell_goldens.py)."""

from __future__ import annotations

from pathlib import Path

from tests.shell.goldens import GOLDEN_DIR, render_all


def test_output_matches_goldens(tmp_path: Path) -> None:
    rendered = render_all(tmp_path)
    on_disk = {
        str(path.relative_to(GOLDEN_DIR)): path.read_text()
        for path in sorted(GOLDEN_DIR.rglob("*.txt"))
    }
    assert sorted(rendered) == sorted(on_disk), "run scripts/make_shell_goldens.py on purpose"
    for name, text in rendered.items():
        assert text == on_disk[name], f"{name} differs from its golden"
