from evals.scoring.base import Score, ScoreFn, ScoringContext, build, load_plugin, registered, scorer

__all__ = ["Score", "ScoreFn", "ScoringContext", "build", "load_plugin", "registered", "scorer"]
