"""The benchmark is a script run by hand (`python tests/bench/bench.py`), not a test suite."""

collect_ignore_glob = ["*.py"]
