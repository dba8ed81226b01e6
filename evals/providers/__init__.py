from evals.providers.base import Completion, GenerationParams, Provider, Status, Timeouts, Timing, Usage

__all__ = ["Completion", "GenerationParams", "Provider", "Status", "Timeouts", "Timing", "Usage"]
