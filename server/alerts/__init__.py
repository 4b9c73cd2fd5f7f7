"""Alerts: per-recipient inbox rows, web push and escalation (SPEC §4)."""
