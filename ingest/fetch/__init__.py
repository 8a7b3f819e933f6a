"""The fetch stage, the only code that imports httpx: client, transport, network guards,
per-host politeness, bounded body decoding, classification of every outcome."""
