"""Advertisement decoders, one module per format. Pure: bytes in, typed values out."""
