"""The product instance: the device side of Smart Licensing Using Policy, as an embeddable library.

Start with :class:`smartlic.instance.agent.Agent` (see docs/instance.md). This package imports
only ``smartlic.core``.
"""

from smartlic.instance.agent import Agent, Identity
from smartlic.instance.clock import Clock, ManualClock, SystemClock

__all__ = ["Agent", "Clock", "Identity", "ManualClock", "SystemClock"]
