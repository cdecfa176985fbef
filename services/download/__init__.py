"""The download service: ``GET/HEAD /files/{key}`` streams originals and variants from S3."""
