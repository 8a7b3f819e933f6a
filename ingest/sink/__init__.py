"""Where records go: the Sink Protocol, JSON lines (plain or gzip), standard output, and
the files' recovery after a crash."""
