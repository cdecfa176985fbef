"""The file catalog: file records in PostgreSQL, kept true by the object store's events."""
