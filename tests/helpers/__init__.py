"""Helpers the tests (and bench/) share: fake news sites, fault servers, CLI runs, record checks."""
