"""The multi-stage pretraining mixture: token budgets per domain and stage."""

from mimo_data.mixture.plan import Candidate, MixtureInfeasibleError, StagePlan, plan_stage

__all__ = ["Candidate", "MixtureInfeasibleError", "StagePlan", "plan_stage"]
