"""Common code of the file service: settings, logging, errors, keys, events, broker and S3 plumbing.

Nothing in here imports a service.
"""
