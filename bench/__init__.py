"""Load benchmarks: `python -m bench.run` (make bench) prints one JSON object per line."""
