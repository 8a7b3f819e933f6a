"""Benchmarks of ingest: each module prints Markdown tables; see bench/README.md.

Run them from the repository root, e.g. ``python -m bench.speed --quick``.
"""
