"""Near-duplicate detection: MinHash signatures of word shingles, LSH band keys to find the
candidates (ingest.dedup.fingerprint). The stage computes; the store keeps the index and the
pipeline decides which story a record joins."""
