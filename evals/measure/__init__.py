"""`evals measure`: the throughput/latency frontier of an endpoint, and the
operating point (tasks per hour within the latency target) that self-hosted
cost is computed from."""

from evals.measure.frontier import measure
from evals.measure.model import Frontier, OperatingPoint, Slo, Step

__all__ = ["Frontier", "OperatingPoint", "Slo", "Step", "measure"]
