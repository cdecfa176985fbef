"""The GraphQL gateway: auth, pre-signed POST payloads, file records from S3, delete."""
