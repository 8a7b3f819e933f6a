"""The one orchestrator: one poll of one feed, its entries, per-site batches of records."""
