"""Benchmarks (BENCHMARKS.md S1-S6): `python -m bench [S1 ...]` or `make bench [S=S1]`. Not part of the test suite."""
