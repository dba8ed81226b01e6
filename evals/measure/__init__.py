"""`evals measure`: the throughput/latency frontier of an endpoint, and the
operating point (tasks per hour within the latency target) that self-hosted
cost is computed from."""

from typing import TYPE_CHECKING

from evals import lazy_exports

if TYPE_CHECKING:
    from evals.measure.frontier import measure
    from evals.measure.model import Frontier, OperatingPoint, Slo, Step

__all__ = ["Frontier", "OperatingPoint", "Slo", "Step", "measure"]
# The frontier imports the providers and so both SDKs; the report needs only the models.
__getattr__ = lazy_exports(__name__, {"measure": "evals.measure.frontier"} | dict.fromkeys(["Frontier", "OperatingPoint", "Slo", "Step"], "evals.measure.model"))
