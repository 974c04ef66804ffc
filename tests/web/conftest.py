from tests.helpers.web import web_harness

__all__ = ["web_harness"]
