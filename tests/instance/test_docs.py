"""The embedding example of docs/instance.md runs as written (paths replaced)."""

from __future__ import annotations

import re
from pathlib import Path

from smartlic.core import xmlfile
from tests.instance.mini_authority import MiniAuthority

DOC = Path(__file__).resolve().parents[2] / "docs" / "instance.md"


def test_embedding_example_runs(tmp_path: Path, authority: MiniAuthority, capsys) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None
    keys = tmp_path / "keys.xml"
    keys.write_bytes(xmlfile.write([authority.anchor]))
    source = code.group(1)
    source = source.replace('Path("/var/lib/mybox/licensing")', repr(str(tmp_path / "state")))
    source = source.replace('Path("/usr/share/mybox/authority-keys.xml")', f"Path({str(keys)!r})")
    source = source.replace("STATE_DIR / ", "Path(STATE_DIR) / ")
    exec(compile(source, str(DOC), "exec"), {})  # noqa: S102
    out = capsys.readouterr().out
    assert "%SMART_LIC-6-AGENT_READY" in out and "Usage Report Summary:" in out
