"""Value objects that travel between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass

from shared.result_values import Gender


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A detected face in pixels of the (orientation-corrected) image, clipped to it."""

    x: int
    y: int
    width: int
    height: int
    score: float


@dataclass(frozen=True, slots=True)
class FaceExpression:
    """The expression network's answer for one face: the likeliest class, its probability, and
    every class's probability (shared.result_values.EXPRESSIONS, summing to 1)."""

    label: str
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True, slots=True)
class FaceAttributes:
    """What the classifiers say of one face (an expression only from packs that have one)."""

    gender: Gender
    gender_confidence: float
    age_years: float
    age_range: str
    age_confidence: float
    expression: FaceExpression | None = None
