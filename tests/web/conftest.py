from tests.helpers.web import shared_web_harness, web_harness

__all__ = ["shared_web_harness", "web_harness"]
