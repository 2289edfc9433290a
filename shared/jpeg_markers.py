"""The marker structure of a JPEG (frame, scans, end marker), read without decoding pixels.

The header check of the API and the worker walks every segment, including the entropy-coded data
between scans, so that it can count scans (a progressive file can hold thousands, each one a full
pass of the decoder over the image) and so that the worker can tell a whole file from a cut one.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from shared.errors import InvalidImage

# libjpeg's default progressive script has 10 scans for colour (6 for grey) and optimisers that
# split scans further (jpegtran/mozjpeg) stay within a few tens; each scan costs a full pass over
# the image, so 20,000 scans keep a decoder busy for minutes (a 1.6 MB 6320x6320 file does it).
MAX_SCANS = 64
# Real photos have a few tens of marker segments (APPn, tables, the frame, a header per scan); an
# ICC profile or extended XMP cut into 64 KB segments adds a few hundred. Each costs this walk
# about 0.4 us of pure Python, so the bound keeps a file's walk to a few ms (issue 25: 5 million
# empty APP segments took the API 1.9 s of CPU).
MAX_SEGMENTS = 10_000

# Start-of-frame markers carry the size; C4, C8 and CC are other segments with the same prefix.
# Their low bits name the process: +8 arithmetic coding, +4 hierarchical (differential), and
# within each group of four, 2 progressive and 3 lossless.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HUFFMAN_SOF = {0xC0, 0xC1, 0xC2}  # baseline, extended, progressive (non-differential)
# A marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00 or a restart marker.
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# Fill bytes before a marker, any number of them: passed in one step (a 20 MiB run of them took a
# byte-at-a-time walk 1.8 s, issue 25).
_FILL = re.compile(rb"\xff+")


@dataclass(frozen=True, slots=True)
class Component:
    id: int
    h: int  # horizontal sampling factor
    v: int  # vertical sampling factor


@dataclass(frozen=True, slots=True)
class Frame:
    width: int
    height: int
    components: tuple[Component, ...]
    marker: int  # the start-of-frame marker: the coding process

    @property
    def huffman(self) -> bool:
        """Baseline, extended or progressive Huffman: what the integrity checks know."""
        return self.marker in _HUFFMAN_SOF

    @property
    def progressive(self) -> bool:
        return self.marker & 3 == 2

    @property
    def arithmetic(self) -> bool:
        return self.marker & 8 == 8

    @property
    def hierarchical(self) -> bool:
        return self.marker & 4 == 4

    @property
    def lossless(self) -> bool:
        return self.marker & 3 == 3


@dataclass(frozen=True, slots=True)
class Scan:
    component_ids: tuple[int, ...]
    ss: int  # first coefficient (spectral selection start)
    se: int  # last coefficient
    ah: int  # successive approximation: bit position of the previous pass (0 = first pass)
    al: int  # bit position of this pass (0 = final precision)
    data_bytes: int  # entropy-coded bytes after its header, stuffing and restarts included


@dataclass(frozen=True, slots=True)
class JpegLayout:
    frame: Frame
    scans: tuple[Scan, ...]
    ends: bool  # an end-of-image marker follows the last scan


def read_jpeg_layout(data: bytes) -> JpegLayout:
    """Frame, scans and end marker; ValueError when malformed, InvalidImage over MAX_SCANS or
    MAX_SEGMENTS.

    A file cut short is not an error here (the API accepts it, the worker refuses it).
    """
    frame: Frame | None = None
    scans: list[Scan] = []
    ends = False
    pos = 2
    segments = 0
    while pos + 1 < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"bad marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes: to the last of them, which prefixes the marker
            pos = _FILL.match(data, pos).end() - 1  # type: ignore[union-attr]
            continue
        segments += 1
        if segments > MAX_SEGMENTS:
            raise InvalidImage(
                f"The JPEG has more than {MAX_SEGMENTS:,} marker segments; real photos have a "
                "few tens."
            )
        if marker == 0xD9:
            ends = True
            break
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise ValueError("bad segment length")
        end = pos + 2 + length
        if end > len(data):
            break  # cut inside a segment
        body = data[pos + 4 : end]
        if marker in _SOF_MARKERS and frame is None:
            frame = _frame(marker, body)
        elif marker == 0xDA:
            if frame is None:
                raise ValueError("scan before the start-of-frame segment")
            if len(scans) == MAX_SCANS:
                raise InvalidImage(
                    f"The JPEG has more than {MAX_SCANS} scans; real photos have about 10."
                )
            found = _NEXT_MARKER.search(data, end)
            pos = found.start() if found else len(data)
            scans.append(_scan(body, pos - end))
            continue
        pos = end
    if frame is None:
        raise ValueError("no start-of-frame segment")
    return JpegLayout(frame, tuple(scans), ends)


def _frame(marker: int, body: bytes) -> Frame:
    height, width, count = struct.unpack(">HHB", body[1:6])
    components = tuple(
        Component(body[6 + 3 * i], body[7 + 3 * i] >> 4, body[7 + 3 * i] & 0x0F)
        for i in range(count)
    )
    if not components:
        raise ValueError("a frame without components")
    if any(not (1 <= c.h <= 4 and 1 <= c.v <= 4) for c in components):
        raise ValueError("bad sampling factors")
    return Frame(width, height, components, marker)


def _scan(body: bytes, data_bytes: int) -> Scan:
    count = body[0]
    ids = tuple(body[1 + 2 * i] for i in range(count))
    ss, se, approximation = body[1 + 2 * count : 4 + 2 * count]
    return Scan(ids, ss, se, approximation >> 4, approximation & 0x0F, data_bytes)
