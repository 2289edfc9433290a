"""HEIF/HEIC recognition and size from the ISO BMFF boxes, without decoding any pixels.

The size is the `ispe` (image spatial extents) property of the primary item, found through
`meta/pitm` and `meta/iprp/ipma`; when that chain is missing, the largest `ispe` in the file
(never an underestimate for the pixel cap). A primary item that is a grid is checked before
libheif builds it: libheif allocates the output size the grid's own data gives and decodes every
tile, whatever `ispe` says (31x31 tiles of 1024 px under an `ispe` of 1000x1000 took 1.8 GB).
So the grid's output must be its `ispe`, its tiles as many as its rows and columns, all of one
size and covering the output with less than a tile to spare; its size is then what the tiles
cover. Other derived images (overlays, identities) are refused. The walk is iterative, three
levels deep at most, checks every box against its parent and visits a bounded number of boxes
and items: malformed input is a ValueError, never a long loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

# HEVC-coded HEIF (what iPhones write) and the generic image/sequence brands libheif decodes.
_HEVC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_GENERIC_BRANDS = {b"mif1", b"msf1", b"mif2", b"miaf"}
# AV1 in HEIF (AVIF) also lists mif1; the installed libheif has no AV1 decoder.
_AV1_BRANDS = {b"avif", b"avis"}
MAX_FTYP_BYTES = 1024
MAX_BOXES_PER_LEVEL = 4096
MAX_ITEMS = 4096  # items located, associated or referenced (a 48 MP grid of 512 px has 193)
_CODED_ITEMS = {b"hvc1"}  # what the installed libheif decodes

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
    ipma = next((box for box in _boxes(data, iprp[1], iprp[2]) if box[0] == b"ipma"), None)
    if primary is None or ipma is None:
        return max(sizes.values(), key=lambda size: size[0] * size[1])
    associations = _associations(data, ipma[1], ipma[2])

    def size_of(item: int) -> tuple[int, int]:
        found = [sizes[i] for i in associations.get(item, ()) if i in sizes]
        if not found:
            raise ValueError(f"item {item} has no ispe property")
        return found[0]

    kind = _item_types(data, meta).get(primary)
    if kind == b"grid":
        return _grid_size(data, meta, primary, size_of)
    if kind not in _CODED_ITEMS:
        raise ValueError(f"a primary image of type {kind!r} is not supported")
    return size_of(primary)


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


def _associations(data: bytes, start: int, end: int) -> dict[int, list[int]]:
    """Property indices (1-based) that an `ipma` box associates with each item."""
    version, wide = _uint(data, start, 1, end), _uint(data, start + 1, 3, end) & 1
    item_bytes, index_bytes = (2 if version == 0 else 4), (2 if wide else 1)
    count = _counted(_uint(data, start + 4, 4, end), "ipma entries")
    associations, pos = {}, start + 8
    for _ in range(count):
        item_id = _uint(data, pos, item_bytes, end)
        indices = _uint(data, pos + item_bytes, 1, end)
        pos += item_bytes + 1
        associations[item_id] = [
            # the top bit marks "essential"
            _uint(data, pos + i * index_bytes, index_bytes, end) & (0x7FFF if wide else 0x7F)
            for i in range(indices)
        ]
        pos += indices * index_bytes
    return associations


def _counted(count: int, what: str) -> int:
    if count > MAX_ITEMS:
        raise ValueError(f"more than {MAX_ITEMS} {what}")
    return count


def _full_box_body(data: bytes, meta: Box, kind: bytes) -> tuple[int, int, int]:
    """Version, first byte after version and flags, and end of a full box child of meta."""
    _, start, end = _child(data, meta, kind)
    return _uint(data, start, 1, end), start + 4, end


def _item_types(data: bytes, meta: Box) -> dict[int, bytes]:
    """Item id -> item type, from the `infe` entries (version 2 and 3) of `iinf`."""
    version, start, end = _full_box_body(data, meta, b"iinf")
    types = {}
    for kind, entry, entry_end in _boxes(data, start + (2 if version == 0 else 4), end):
        entry_version = _uint(data, entry, 1, entry_end)
        if kind == b"infe" and entry_version >= 2:
            id_bytes = 2 if entry_version == 2 else 4
            item = _uint(data, entry + 4, id_bytes, entry_end)
            type_at = entry + 4 + id_bytes + 2
            types[item] = data[type_at : min(type_at + 4, entry_end)]
    return types


def _item_data(data: bytes, meta: Box, item: int, most: int) -> bytes:
    """The bytes of a small item (at most `most`), located by `iloc` in the file or in `idat`."""
    version, start, end = _full_box_body(data, meta, b"iloc")
    sizes = _uint(data, start, 2, end)
    offset_bytes, length_bytes, base_bytes = sizes >> 12, sizes >> 8 & 15, sizes >> 4 & 15
    index_bytes = sizes & 15 if version in (1, 2) else 0
    id_bytes = 2 if version < 2 else 4
    pos = start + 2 + id_bytes
    for _ in range(_counted(_uint(data, start + 2, id_bytes, end), "located items")):
        item_id, pos = _uint(data, pos, id_bytes, end), pos + id_bytes
        method = _uint(data, pos, 2, end) & 15 if version in (1, 2) else 0
        pos += (2 if version in (1, 2) else 0) + 2  # construction method, data reference
        base, pos = _uint(data, pos, base_bytes, end), pos + base_bytes
        extents, pos = _uint(data, pos, 2, end), pos + 2
        parts = []
        for _ in range(extents):
            pos += index_bytes
            offset, pos = _uint(data, pos, offset_bytes, end), pos + offset_bytes
            length, pos = _uint(data, pos, length_bytes, end), pos + length_bytes
            parts.append((base + offset, length))
        if item_id == item:
            if method == 1:
                _, first, last = _child(data, meta, b"idat")
            elif method == 0:
                first, last = 0, len(data)
            else:
                raise ValueError(f"item {item} is built by construction method {method}")
            if sum(length for _, length in parts) > most or any(n == 0 for _, n in parts):
                raise ValueError(f"item {item} is not a small item")
            return b"".join(_bytes(data, first + o, n, last) for o, n in parts)
    raise ValueError(f"item {item} is not located")


def _bytes(data: bytes, pos: int, size: int, end: int) -> bytes:
    if pos + size > end:
        raise ValueError("item data beyond its container")
    return data[pos : pos + size]


def _tiles(data: bytes, meta: Box, grid: int) -> list[int]:
    """The items a grid is derived from (its `dimg` references), in order."""
    version, start, end = _full_box_body(data, meta, b"iref")
    id_bytes = 2 if version == 0 else 4
    for kind, body, body_end in _boxes(data, start, end):
        if kind == b"dimg" and _uint(data, body, id_bytes, body_end) == grid:
            count = _counted(_uint(data, body + id_bytes, 2, body_end), "tiles")
            first = body + id_bytes + 2
            return [_uint(data, first + i * id_bytes, id_bytes, body_end) for i in range(count)]
    raise ValueError("a grid without tiles")


def _grid_size(
    data: bytes, meta: Box, grid: int, size_of: Callable[[int], tuple[int, int]]
) -> tuple[int, int]:
    """What a grid's tiles cover, once the grid is found consistent (see the module's doc)."""
    layout = _item_data(data, meta, grid, most=64)
    if len(layout) < 8:
        raise ValueError("short grid data")
    field = 4 if layout[1] & 1 else 2
    rows, columns = layout[2] + 1, layout[3] + 1
    width = int.from_bytes(layout[4 : 4 + field], "big")
    height = int.from_bytes(layout[4 + field : 4 + 2 * field], "big")
    if (width, height) != size_of(grid):
        ispe = "x".join(map(str, size_of(grid)))
        raise ValueError(f"the grid's output {width}x{height} is not its ispe {ispe}")
    tiles = _tiles(data, meta, grid)
    if len(tiles) != rows * columns:
        raise ValueError(f"a grid of {rows}x{columns} with {len(tiles)} tiles")
    types = _item_types(data, meta)
    if any(types.get(tile) not in _CODED_ITEMS for tile in tiles):
        raise ValueError("a grid tile that is not a coded image")
    tile_sizes = {size_of(tile) for tile in tiles}
    if len(tile_sizes) != 1:
        raise ValueError("grid tiles of different sizes")
    ((tile_width, tile_height),) = tile_sizes
    if not (
        (columns - 1) * tile_width < width <= columns * tile_width
        and (rows - 1) * tile_height < height <= rows * tile_height
    ):
        raise ValueError(
            f"{rows}x{columns} tiles of {tile_width}x{tile_height} do not fit an output of "
            f"{width}x{height}"
        )
    return columns * tile_width, rows * tile_height
