"""Configuration: the settings model, loading config.yaml and INGEST_* overrides, checks, OPML."""
