"""`readface models fetch|verify`."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.manifest import load_pack
from shared.settings import get_settings
from worker.packs import PackVerificationError, verify_pack


def run_models_command(action: str, pack_name: str | None, model_dir: Path | None) -> int:
    """Fetch or verify one pack; prints what is wrong and returns 1 if anything is."""
    settings = get_settings()
    pack = load_pack(pack_name or settings.model_pack)
    directory = model_dir or settings.model_dir
    try:
        if action == "fetch":
            # Imported here: the converters need onnx, which only fetching uses.
            from worker.conversion.fetch import fetch_pack

            fetch_pack(pack, directory, log=lambda line: print(line, file=sys.stderr))
        else:
            verify_pack(pack, directory)
    except PackVerificationError as error:
        print(f"readface: {error}", file=sys.stderr)
        return 1
    print(
        f"model pack {pack.name!r} ({pack.fingerprint}) verified in {directory}: "
        f"{len(pack.files)} files"
    )
    return 0
