from tests.integration.conftest import control, store

__all__ = ["control", "store"]
