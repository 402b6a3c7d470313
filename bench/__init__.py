"""Benchmarks that install other projects: outside the voxrt package, with their own requirements."""
