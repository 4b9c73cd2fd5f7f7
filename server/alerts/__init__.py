"""Alerts: per-recipient inbox rows, who gets them, reading them, the rules and escalation
(SPEC §4). Web push (`server.push`) carries the same rows to each subscribed device.
"""

from flask import Blueprint

# Alerts build on incidents, whose views import this feature's operations: load that feature
# first, so whichever of the two is imported first, neither meets the other half-loaded.
import server.incidents  # noqa: F401

bp = Blueprint("alerts", __name__)

from server.alerts import admin_routes, routes  # noqa: E402,F401
