"""The values a result's fields take (genders, expressions, attributes, age buckets, engines and
precisions): the worker writes them, the API documents them (its OpenAPI enums come from here,
so the two cannot drift)."""

from __future__ import annotations

from enum import StrEnum


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"


# The expression classes of the contract, in the order the expression network gives them.
EXPRESSIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
# What a result can hold besides the face's box (READFACE_ATTRIBUTES): gender and age always, the
# expression unless a deployment leaves it out.
ATTRIBUTES = ("gender", "age", "expression")
REQUIRED_ATTRIBUTES = ("gender", "age")

# The eight classic Levi-Hassner buckets (that pack reports ages in them).
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

# Inference engines and precisions (READFACE_ENGINE, READFACE_PRECISION): worker/models/engine.py.
ENGINES = ("opencv", "openvino")
EXACT, FAST, INT8 = "exact", "fast", "int8"
PRECISIONS = (EXACT, FAST, INT8)


def bucket_label(bucket: tuple[int, int]) -> str:
    return f"{bucket[0]}-{bucket[1]}"
