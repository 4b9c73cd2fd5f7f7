"""What disposal leaves in each record's content columns: the only values the database's
guard accepts in an UPDATE (migration 0012_retention; tests check the two agree)."""

DISPOSED_TEXT = "[Removed at the end of the retention period]"
DISPOSED_DIGEST = "0" * 64
DISPOSED_FILE_NAME = "disposed"

BLANKS = {
    "incidents": {
        "account": DISPOSED_TEXT,
        "content_hash": DISPOSED_DIGEST,
        "location": None,
        "parents_reason": None,
        "recorded_on_behalf_name": None,
        "recorded_on_behalf_role": None,
    },
    "actions": {
        "text": DISPOSED_TEXT,
        "recorded_on_behalf_name": None,
        "recorded_on_behalf_role": None,
    },
    "incident_events": {"note": None},
    "incident_body_marks": {"note": None},
    "incident_files": {"original_name": DISPOSED_FILE_NAME, "sha256": DISPOSED_DIGEST},
}

# An imported incident's content is one JSON document (server.transfer.imported): disposal
# leaves this fixed one, which still reads as an incident with its account removed.
DISPOSED_IMPORTED_CONTENT = '{"account": "' + DISPOSED_TEXT + '", "disposed": true}'

BLANKS["imported_incidents"] = {"content": DISPOSED_IMPORTED_CONTENT}
BLANKS["imported_files"] = {"original_name": DISPOSED_FILE_NAME, "sha256": DISPOSED_DIGEST}
