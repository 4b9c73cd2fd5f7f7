"""Chronologies and reports (SPEC §7)."""
