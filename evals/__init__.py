"""workload-evals: measure whether a self-hosted open model is good enough on a
team's own traffic, and what each completed task costs."""

__version__ = "0.1.0"
