"""`ingest run`: APScheduler dispatch, schedule math, metrics, the operations server."""
