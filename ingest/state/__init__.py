"""The state store: the Store Protocol, the SQLite store, a read-only view."""
