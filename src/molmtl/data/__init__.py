"""Data: QM9 (offline, cached), splits, user CSVs."""
