"""The utility (CSLU role): push endpoint, utility-initiated collection, connected and
disconnected operation (issue 6). Imports only ``smartlic.core``."""

from smartlic.utility.service import Utility
from smartlic.utility.store import Store

__all__ = ["Store", "Utility"]
