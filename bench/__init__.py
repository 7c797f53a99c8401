"""`make bench`: the speed of containment, measured with the local drill.

Not part of `make test` and never a timed assertion: it measures and writes docs/benchmarks.md
(table and method) and bench.json (the same figures, machine-readable). Counts are exact;
timings are measurements of this machine and say so.
"""
