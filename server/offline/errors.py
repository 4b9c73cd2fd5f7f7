"""Refusals of the offline features, with a code the device acts on."""

from server.errors import Refused


class OfflineRefused(Refused):
    """A device or outbox rule said no. Nothing has been written when this is raised.

    `code` names the reason for the device; `retry` says whether sending the same entry again
    could ever succeed (a revoked device or a tampered envelope never will).
    """

    def __init__(self, message: str, code: str, status: int = 422, retry: bool = False):
        super().__init__(message, status)
        self.code = code
        self.retry = retry

    def to_json(self) -> dict:
        return {"error": self.code, "message": self.message, "retry": self.retry}
