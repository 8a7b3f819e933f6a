"""The footer stage: built-in rules as data, line matching, per-site learning."""
