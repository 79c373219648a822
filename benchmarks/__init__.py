"""Measured figures for docs/performance.md: ``python -m benchmarks`` runs them all.

Each figure is printed as one JSON object per line and all of them are written to
``benchmarks/results/latest.json`` (git-ignored). ``--quick`` runs a small version of
every figure in seconds; the test suite uses it to keep the benchmarks working.
"""
