"""The authority's web portal (``/portal``): server-rendered pages over the same services as
``/api/v1``. See docs/web.md."""

from smartlic.authority.portal.routes import mount

__all__ = ["mount"]
