"""ingest: poll news feeds, extract clean article text, write de-duplicated JSON lines."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/ingest-project/ingest"
USER_AGENT = f"ingest/{__version__} (+{PROJECT_URL})"
