"""Routes: filled in below."""
