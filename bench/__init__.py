"""Benchmarks: each prints figures and asserts nothing (tests never time anything)."""
