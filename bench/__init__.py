"""Benchmarks (`make bench`): figures go to bench/results.json; nothing here is a pass/fail test."""
