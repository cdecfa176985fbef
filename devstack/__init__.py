"""Provisioning: the real components (RabbitMQ, SeaweedFS, PostgreSQL) and the five services.

``make run``, the test fixtures and the benchmarks all use it, so the local stack, the tests and
the measurements are built the same way. It imports neither the tests nor pytest, and no service
imports it. What it holds:

- ``ports``, ``rabbit``, ``postgres``, ``seaweed``: one local component each;
- ``containers``, ``infra``, ``database``: where a private broker and S3, and PostgreSQL databases,
  come from (testcontainers when a Docker engine answers, else the local components);
- ``services``: the five services as processes, started, waited for and stopped together;
- ``stack``: the five on free ports against a fresh vhost, bucket and database of an ``Infra``;
- ``photos``: seeded, photographic-looking pictures;
- ``__main__``: ``python -m devstack run`` (``make run``) and ``bucket``.
"""
