"""The QuickLZ level-1 chunks Gicisky / PICKSMART labels decompress, as pure code.

The vendor app sends every image as 64-byte pieces of the panel's planes, each
one a QuickLZ 1.5 level-1 packet with a 3-byte header. The variant differs
from a stock desktop build in ways that change the bytes, so a stock library
would not reproduce the app's output (and its matches could refer to hash
buckets the label never filled):

- the hash table has 64 buckets, ``((f >> 12) ^ f) & 0x3F`` of the 3 bytes at a
  position read little endian, and starts empty for every chunk;
- position 0 is a valid match source (an empty bucket is not);
- a match may start at most 10 bytes before the chunk's end (6 + the 4 last
  bytes, which are always literals), is at least 3 bytes long and at most 255;
- the run rule of QuickLZ: a match one byte back is taken after three literals
  of a run of seven equal bytes;
- a compressed chunk is kept even when it is longer than the raw bytes; the
  stock bail-out (at a control-word boundary past half the chunk, when the
  output is longer than the input less 1/32) stores the chunk raw.

These rules reproduce all 99 public captures of the vendor app writing a 4.2"
label byte for byte (tests/fixtures/gicisky/, credited there).

Packet: ``75 <3 + len(body)> <n> <body>`` (compressed) or ``74 <3 + n> <n> <n
raw bytes>`` (stored). A body is 32-bit little-endian control words, each
followed by up to 31 items, read least significant bit first (1 = match, 0 =
literal byte) until the word is down to its sentinel bit. A match is 2 bytes,
``(length - 2) | hash << 4`` for lengths 3..17, or 3 bytes, ``hash << 4`` then
the length, for 18..255.

Compressing a chunk depends only on its 64 bytes, so results are memoised: a
shelf label's planes repeat the same few chunks (white, empty red) hundreds of
times.
"""

from __future__ import annotations

import struct
from functools import lru_cache

CHUNK_BYTES = 64
COMPRESSED = 0x75
STORED = 0x74
HEADER_BYTES = 3

_HASH_MASK = 0x3F
_MIN_OFFSET = 2
_LAST_LITERALS = 4
_MATCH_END_GAP = 6 + _LAST_LITERALS  # last match start = size - 1 - 10
_MAX_MATCH = 255
_SENTINEL = 1 << 31


class QuickLZError(ValueError):
    """Bytes that are not a chunk stream of this variant (or do not fit what was expected)."""


def _fetch(data: bytes | bytearray, pos: int) -> int:
    return data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16


def _hash(fetch: int) -> int:
    return ((fetch >> 12) ^ fetch) & _HASH_MASK


def _run_of_seven(data: bytes, pos: int) -> bool:
    first = data[pos]
    return all(data[pos + k] == first for k in range(1, 7))


def compress_body(src: bytes) -> bytes | None:
    """The compressed body of one chunk, or None when the chunk is to be stored raw."""
    size = len(src)
    last = size - 1
    last_match_start = last - _MATCH_END_GAP
    offsets: list[int | None] = [None] * (_HASH_MASK + 1)
    cached: list[int] = [0] * (_HASH_MASK + 1)
    out = bytearray(4)
    word_at = 0
    word = _SENTINEL
    pos = 0
    literals = 0
    while pos <= last_match_start:
        if word & 1:
            if pos > size >> 1 and len(out) > pos - (pos >> 5):
                return None  # the stock bail-out: store the chunk raw
            struct.pack_into("<I", out, word_at, word >> 1 | _SENTINEL)
            word_at = len(out)
            out += b"\0\0\0\0"
            word = _SENTINEL
        fetch = _fetch(src, pos)
        h = _hash(fetch)
        seen, cached[h] = cached[h], fetch
        origin, offsets[h] = offsets[h], pos
        if (
            origin is not None
            and seen == fetch
            and (
                pos - origin > _MIN_OFFSET
                or (pos == origin + 1 and literals >= 3 and pos > 3 and _run_of_seven(src, pos - 3))
            )
        ):
            limit = min(_MAX_MATCH, last - pos + 1 - _LAST_LITERALS)
            length = 3
            while length < limit and src[pos + length] == src[origin + length]:
                length += 1
            word = word >> 1 | _SENTINEL
            if length < 18:
                token = (length - 2) | h << 4
                out += bytes((token & 0xFF, token >> 8))
            else:
                token = h << 4
                out += bytes((token & 0xFF, token >> 8, length))
            pos += length
            literals = 0
        else:
            out.append(src[pos])
            pos += 1
            literals += 1
            word >>= 1
    while pos <= last:
        if word & 1:
            struct.pack_into("<I", out, word_at, word >> 1 | _SENTINEL)
            word_at = len(out)
            out += b"\0\0\0\0"
            word = _SENTINEL
        out.append(src[pos])
        pos += 1
        word >>= 1
    while not word & 1:
        word >>= 1
    struct.pack_into("<I", out, word_at, word >> 1 | _SENTINEL)
    return bytes(out)


@lru_cache(maxsize=4096)
def compress_chunk(src: bytes) -> bytes:
    """One packet (header included) for at most 64 bytes."""
    if not 0 < len(src) <= CHUNK_BYTES:
        raise ValueError(f"a chunk holds 1 to {CHUNK_BYTES} bytes, not {len(src)}")
    body = compress_body(src)
    if body is None:
        return bytes((STORED, HEADER_BYTES + len(src), len(src))) + src
    if HEADER_BYTES + len(body) > 0xFF:
        raise AssertionError("a 64-byte chunk cannot compress to more than 252 bytes")
    return bytes((COMPRESSED, HEADER_BYTES + len(body), len(src))) + body


def compress(data: bytes) -> bytes:
    """``data`` cut into 64-byte chunks, each one packet."""
    return b"".join(
        compress_chunk(data[i : i + CHUNK_BYTES]) for i in range(0, len(data), CHUNK_BYTES)
    )


@lru_cache(maxsize=4096)
def decompress_body(body: bytes, size: int) -> bytes:
    """``size`` bytes back from one compressed body; QuickLZError if it is not exactly that.

    The decoder's hash table sees every position outside a match (once its three
    bytes are known) and the first byte of each match, as the compressor's did.
    A control word that never reaches its sentinel (``00000000``, which the
    older per-line container uses) means literals to the end of the chunk.
    """
    out = bytearray()
    offsets: list[int | None] = [None] * (_HASH_MASK + 1)
    hashed = -1  # the last position entered in the table
    pos = 0
    word = 1
    end = len(body)
    while len(out) < size:
        if word == 1:
            if pos + 4 > end:
                raise QuickLZError(f"body ends before its control word at byte {pos}")
            word = struct.unpack_from("<I", body, pos)[0]
            pos += 4
        is_match = word & 1
        word >>= 1
        if not is_match:
            if pos >= end:
                raise QuickLZError(f"body ends before its literal at byte {pos}")
            out.append(body[pos])
            pos += 1
            while hashed < len(out) - 3:
                hashed += 1
                offsets[_hash(_fetch(out, hashed))] = hashed
            continue
        if pos + 2 > end:
            raise QuickLZError(f"body ends inside a match at byte {pos}")
        token = body[pos] | body[pos + 1] << 8
        h = token >> 4
        if token & 0xF:
            length = (token & 0xF) + 2
            pos += 2
        else:
            if pos + 3 > end:
                raise QuickLZError(f"body ends inside a long match at byte {pos}")
            length = body[pos + 2]
            pos += 3
        if h > _HASH_MASK:
            raise QuickLZError(f"match names hash bucket {h}; this variant has 64")
        origin = offsets[h]
        if origin is None:
            raise QuickLZError(f"match names hash bucket {h}, which is empty")
        start = len(out)
        if length < 3 or start + length > size:
            raise QuickLZError(f"match of {length} bytes at {start} does not fit {size} bytes")
        for k in range(length):  # byte by byte: the source may overlap the copy
            out.append(out[origin + k])
        while hashed < start:
            hashed += 1
            offsets[_hash(_fetch(out, hashed))] = hashed
        hashed = len(out) - 1
    if pos != end:
        raise QuickLZError(f"{end - pos} bytes left over after {size} bytes")
    return bytes(out)


def read_chunks(data: bytes, pos: int, want: int) -> tuple[bytes, int]:
    """Packets from ``data[pos:]`` until ``want`` bytes are decoded: (bytes, next position)."""
    out = bytearray()
    while len(out) < want:
        if pos + HEADER_BYTES > len(data):
            raise QuickLZError(f"stream ends at byte {pos}, {want - len(out)} bytes short")
        kind, total, size = data[pos], data[pos + 1], data[pos + 2]
        body = data[pos + HEADER_BYTES : pos + total]
        if total < HEADER_BYTES or len(body) != total - HEADER_BYTES:
            raise QuickLZError(f"packet at byte {pos} runs past the end")
        if size == 0 or len(out) + size > want:
            raise QuickLZError(f"packet at byte {pos} holds {size} bytes; {want - len(out)} left")
        if kind == COMPRESSED:
            out += decompress_body(bytes(body), size)
        elif kind == STORED and len(body) == size:
            out += body
        else:
            raise QuickLZError(f"bad packet header {data[pos : pos + 3].hex(' ')} at byte {pos}")
        pos += total
    return bytes(out), pos
