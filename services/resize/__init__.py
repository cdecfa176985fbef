"""The resize worker: consumes resize requests, stores variants in S3, replies (flow C)."""
