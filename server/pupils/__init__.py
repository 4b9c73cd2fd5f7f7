"""Pupils and classes: the school roll, its import from the MIS, and who teaches whom."""
