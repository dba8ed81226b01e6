"""Simulated OpenAI and Anthropic endpoints on loopback, for the demo and the tests."""

from evals.sim.server import SimServer

__all__ = ["SimServer"]
