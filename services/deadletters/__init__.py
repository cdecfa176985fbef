"""``python -m services.deadletters``: list the dead-letter queues and move dead letters back."""
