"""Seeded simulators of the systems outside (DESIGN §8), all driven by one synthetic population."""

from __future__ import annotations

from workbench.simulate.world import World, generate_world

__all__ = ["World", "generate_world"]
