"""The file service in a client team's tests: ``with FileService() as fs: fs.graphql_url ...``."""

from fileservice_testcontainers.fileservice import SERVICES, FileService, Images

__all__ = ["SERVICES", "FileService", "Images"]
