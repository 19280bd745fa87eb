"""Analytic cost models: ``crypten`` (exact for the measured backend) and ``cheetah`` (projection).

Every model is a set of named functions returning :class:`~analysis.cost_models.cost.Cost`."""
from .cost import METRICS, Cost

__all__ = ["Cost", "METRICS"]
