"""`readface analyze`: the pipeline in this process, JSON Lines out, one error per bad file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.errors import ReadfaceError
from shared.job_states import analysis_id_for
from shared.settings import get_settings
from worker.packs import PackVerificationError
from worker.pipeline import load_pipeline


def analyze_files(paths: list[Path], out_dir: Path | None, pack_name: str | None) -> int:
    """Analyse each file; returns 1 if any file failed (the others are still analysed)."""
    try:
        pipeline = load_pipeline(get_settings(), pack_name)
    except PackVerificationError as error:
        print(f"readface: {error}", file=sys.stderr)
        return 1
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for path in paths:
        try:
            data = path.read_bytes()
            analysis = pipeline.analyze(data)
        except (OSError, ReadfaceError) as error:
            reason = error.message if isinstance(error, ReadfaceError) else error.strerror or error
            print(f"readface: {path}: {reason}", file=sys.stderr)
            failed = True
            continue
        record = {"id": analysis_id_for(data), "path": str(path), **analysis.result}
        print(json.dumps(record), flush=True)
        if out_dir is not None:
            (out_dir / f"{path.stem}.annotated.jpg").write_bytes(analysis.annotated_jpeg)
    return 1 if failed else 0
