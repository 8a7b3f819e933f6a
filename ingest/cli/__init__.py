"""The `ingest` command and its small commands."""
