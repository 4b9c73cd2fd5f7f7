"""Backups (SPEC §10): one consistent, encrypted archive of the database, the encrypted
uploads and the audit anchors, and a restore that rebuilds a fresh instance from it.

The archive is encrypted to the school's backup public key, so the server can write backups
it cannot read; the secrets (secret key, file key, audit key) are exported apart from it, so
a stolen archive alone reveals nothing.
"""
