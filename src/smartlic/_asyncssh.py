"""asyncssh, imported without cryptography's DSA deprecation warning.

asyncssh names cryptography's DSA classes in module-level type aliases, so importing it warns
under cryptography 51 and later, although smartlic never makes or accepts a DSA key. A warning
printed above every command's output teaches people to ignore warnings, so exactly that warning
is silenced for exactly this import; any other warning, and this one from anywhere else, shows.
Every module of smartlic imports asyncssh from here.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
    import asyncssh

__all__ = ["asyncssh"]
