"""HEIF/HEIC recognition and size from the ISO BMFF boxes, without decoding any pixels.

The size is the `ispe` (image spatial extents) property of the primary item, found through
`meta/pitm` and `meta/iprp/ipma`; when that chain is missing, the largest `ispe` in the file
(never an underestimate for the pixel cap). The walk is iterative, three levels deep at most,
checks every box against its parent and visits a bounded number of boxes: malformed input is a
ValueError, never a long loop.
"""

from __future__ import annotations

from collections.abc import Iterator

# HEVC-coded HEIF (what iPhones write) and the generic image/sequence brands libheif decodes.
_HEVC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_GENERIC_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
# AV1 in HEIF (AVIF) also lists mif1; the installed libheif has no AV1 decoder.
_AV1_BRANDS = {b"avif", b"avis"}
MAX_FTYP_BYTES = 1024
MAX_BOXES_PER_LEVEL = 4096

Box = tuple[bytes, int, int]  # type, first byte of the body, end of the box


def is_heif(data: bytes) -> bool:
    """Whether the file starts with an ISO BMFF `ftyp` box naming a HEIF brand we decode."""
    if data[4:8] != b"ftyp":
        return False
    size = int.from_bytes(data[:4], "big")
    if not 16 <= size <= min(len(data), MAX_FTYP_BYTES):
        return False
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, size - 3, 4)}
    if brands & _AV1_BRANDS and not brands & _HEVC_BRANDS:
        return False
    return bool(brands & (_HEVC_BRANDS | _GENERIC_BRANDS))


def heif_size(data: bytes) -> tuple[int, int]:
    """Width and height of the primary image (before rotation); ValueError when malformed."""
    _, meta_start, meta_end = _child(data, (b"", 0, len(data)), b"meta")
    meta = (b"meta", meta_start + 4, meta_end)  # a full box: version and flags first
    iprp = _child(data, meta, b"iprp")
    properties = list(_boxes(data, *_child(data, iprp, b"ipco")[1:]))
    sizes = {
        index: _ispe(data, start, end)
        for index, (kind, start, end) in enumerate(properties, start=1)
        if kind == b"ispe"
    }
    if not sizes:
        raise ValueError("no ispe property")
    primary = _primary_item(data, meta)
    if primary is not None:
        for kind, start, end in _boxes(data, iprp[1], iprp[2]):
            if kind == b"ipma":
                for index in _associations(data, start, end, primary):
                    if index in sizes:
                        return sizes[index]
    return max(sizes.values(), key=lambda size: size[0] * size[1])


def _boxes(data: bytes, start: int, end: int) -> Iterator[Box]:
    pos, count = start, 0
    while pos + 8 <= end:
        count += 1
        if count > MAX_BOXES_PER_LEVEL:
            raise ValueError("too many boxes")
        size, header = int.from_bytes(data[pos : pos + 4], "big"), 8
        if size == 1:  # 64-bit size after the type
            size, header = _uint(data, pos + 8, 8, end), 16
        elif size == 0:  # extends to the end of its parent
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {data[pos + 4 : pos + 8]!r} overruns its parent")
        yield data[pos + 4 : pos + 8], pos + header, pos + size
        pos += size


def _child(data: bytes, parent: Box, kind: bytes) -> Box:
    for box in _boxes(data, parent[1], parent[2]):
        if box[0] == kind:
            return box
    raise ValueError(f"no {kind.decode()} box")


def _uint(data: bytes, pos: int, size: int, end: int) -> int:
    if pos + size > end:
        raise ValueError("box too short")
    return int.from_bytes(data[pos : pos + size], "big")


def _ispe(data: bytes, start: int, end: int) -> tuple[int, int]:
    return _uint(data, start + 4, 4, end), _uint(data, start + 8, 4, end)


def _primary_item(data: bytes, meta: Box) -> int | None:
    for kind, start, end in _boxes(data, meta[1], meta[2]):
        if kind == b"pitm":
            return _uint(data, start + 4, 2 if data[start] == 0 else 4, end)
    return None


def _associations(data: bytes, start: int, end: int, item: int) -> Iterator[int]:
    """Property indices (1-based) that an `ipma` box associates with one item."""
    version, wide = _uint(data, start, 1, end), _uint(data, start + 1, 3, end) & 1
    item_bytes, index_bytes = (2 if version == 0 else 4), (2 if wide else 1)
    pos = start + 8
    for _ in range(_uint(data, start + 4, 4, end)):
        item_id = _uint(data, pos, item_bytes, end)
        count = _uint(data, pos + item_bytes, 1, end)
        pos += item_bytes + 1
        if item_id == item:
            for i in range(count):
                value = _uint(data, pos + i * index_bytes, index_bytes, end)
                yield value & (0x7FFF if wide else 0x7F)  # the top bit marks "essential"
            return
        pos += count * index_bytes
        if pos > end:
            raise ValueError("ipma entries overrun the box")
