"""store-gateway: the in-store IoT edge gateway daemon."""

__version__ = "0.1.0"
