"""The one refusal a recording rule raises: a message, and a message per field at fault."""

from server.errors import Refused


class IncidentRefused(Refused):
    """Bad or forbidden input. Nothing has been written when this is raised.

    Answered as 422 JSON `{"error": "invalid", "message": ..., "fields": {...}}` to the API,
    or shown beside the form on a page.
    """

    def __init__(self, message: str, fields: dict[str, str] | None = None, status: int = 422):
        super().__init__(message, status)
        self.fields = fields or {}

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> "IncidentRefused":
        if len(fields) == 1:
            return cls(next(iter(fields.values())), fields)
        return cls("Some answers need attention before this can be saved.", fields)

    def to_json(self) -> dict:
        return {"error": "invalid", "message": self.message, "fields": self.fields}
