"""Benchmark figures: how a benchmark records what it judges, and the regression gate
(:mod:`harness.benchmarking.compare`: ``compare``, ``figure``, ``load_figures``, ``Regression``).
Nothing is imported here, so ``python -m harness.benchmarking.compare`` runs the module once."""
