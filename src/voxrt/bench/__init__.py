"""Benchmarks and the speech corpus they (and the tests) use."""
