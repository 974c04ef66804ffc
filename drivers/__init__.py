"""Device protocols as pure code: bytes in, typed values out. No I/O, no bleak."""
