"""``python -m smartlic.utility``: the utility CLI (until ``smartlic utility`` is wired)."""

from smartlic.utility.cli import app

app(prog_name="smartlic utility")
