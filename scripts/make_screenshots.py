"""Regenerate the screenshots in docs/images/ (the browser tests take them as they go).

    .venv/bin/python scripts/make_screenshots.py

Needs the Debian chromium at /usr/bin/chromium (``make test`` installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    sys.exit(
        subprocess.call(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/web",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            env={**os.environ, "SMARTLIC_WRITE_SCREENSHOTS": "1"},
        )
    )
