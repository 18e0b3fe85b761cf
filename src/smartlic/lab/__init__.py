"""The lab: an authority, utilities and fleets of product instances in one process, wired in
the topologies of SLP, with time control, scripted scenarios and a narrated demo (docs/lab.md)."""

from smartlic.lab.fleet import TOPOLOGIES, Lab

__all__ = ["TOPOLOGIES", "Lab"]
