"""Versioned SQL migrations of the file catalog, applied in order by ``catalog.migrate``."""
