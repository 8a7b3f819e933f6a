"""Untrusted bytes to models: feeds (feedparser), article pages (trafilatura), metadata, language."""
