"""Development and test tooling: starts the real components (RabbitMQ, SeaweedFS) and the services.

``make run`` and the test fixtures both use it, so the local stack and the tests are built the
same way. It is not imported by any service.
"""
