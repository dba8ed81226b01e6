"""Simulated OpenAI and Anthropic endpoints on loopback, for the demo and the tests."""

from typing import TYPE_CHECKING

from evals import lazy_exports

if TYPE_CHECKING:
    from evals.sim.server import SimServer

__all__ = ["SimServer"]
# The server loads aiohttp; the simulator's behaviour models (evals.sim.behaviour) do not need it.
__getattr__ = lazy_exports(__name__, {"SimServer": "evals.sim.server"})
