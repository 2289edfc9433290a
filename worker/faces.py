"""Value objects that travel between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass

# The eight classic Levi-Hassner buckets the contract reports ages in.
AGE_BUCKETS: tuple[tuple[int, int], ...] = (
    (0, 2),
    (4, 6),
    (8, 12),
    (15, 20),
    (25, 32),
    (38, 43),
    (48, 53),
    (60, 100),
)


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face in pixels of the (orientation-corrected) image, clipped to it."""

    x: int
    y: int
    width: int
    height: int
    score: float


@dataclass(frozen=True, slots=True)
class FaceAttributes:
    """What the classifiers say of one face."""

    gender: str  # "female" or "male"
    gender_confidence: float
    age_years: float
    age_range: str
    age_confidence: float


def bucket_label(bucket: tuple[int, int]) -> str:
    return f"{bucket[0]}-{bucket[1]}"
