"""Where records go: the Sink Protocol, JSON lines (plain or gzip), standard output."""
