"""A warm pool of worker processes that run the untrusted-input work, each job under a deadline."""
