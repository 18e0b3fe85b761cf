"""The utility's web console (``/console``): inventory, Collect Usage, preferences, files.

See docs/web.md."""

from smartlic.utility.console.routes import mount

__all__ = ["mount"]
