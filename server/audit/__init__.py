"""The append-only, hash-chained audit log (SPEC §9)."""
