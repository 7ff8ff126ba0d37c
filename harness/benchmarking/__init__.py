"""Benchmark figures: how a benchmark records what it judges, and the regression comparator."""

from harness.benchmarking.compare import Figure, Regression, compare, figure, load_figures

__all__ = ["Figure", "Regression", "compare", "figure", "load_figures"]
