"""Fixtures of the fetch tests."""

from helpers.faultserver import fault_server as fault_server  # a fixture: pytest finds it here
