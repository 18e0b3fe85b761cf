"""The OpenAPI document of the authority, as checked in at ``docs/authority-openapi.json``.

Regenerate with ``python -m smartlic.authority.openapi > docs/authority-openapi.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from smartlic.authority.app import create_app
from smartlic.authority.settings import Settings


def document() -> str:
    app = create_app(Settings(data=Path("/nonexistent-smartlic-authority")))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")
