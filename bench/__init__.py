"""``make bench``: a realistic data set in a fresh database, then what users feel (see README.md)."""
