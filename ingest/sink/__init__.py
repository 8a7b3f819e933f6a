"""Where records go: the Sink Protocol, JSON lines (plain or gzip), standard output, a
PostgreSQL table, and the files' recovery after a crash."""
