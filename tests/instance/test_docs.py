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


def test_every_method_in_the_api_table_exists() -> None:
    from smartlic.instance import Agent

    table = DOC.read_text().split("| area | methods |", 1)[1].split("\n\n", 1)[0]
    names = set(re.findall(r"`([a-z_]+)(?:\(|`)", table))
    assert {"trust_status", "scheduled_jobs", "usage_reporting", "pending_returns"} <= names
    attributes = {"clock", "identity", "key"}  # set per instance in __init__
    records = {"console_line"}  # a method of SyslogEntry
    missing = sorted(n for n in names - attributes - records if not hasattr(Agent, n))
    assert missing == []
