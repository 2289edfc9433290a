"""The `readface` command: argument parsing and dispatch; each command has its module here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shared.manifest import pack_names
from shared.settings import get_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="readface", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    analyze = commands.add_parser("analyze", help="analyse images in this process (no Redis)")
    analyze.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    analyze.add_argument("--out", type=Path, help="write DIR/<stem>.annotated.jpg for each image")
    analyze.add_argument("--pack", choices=pack_names(), help="model pack (default: settings)")

    models = commands.add_parser("models", help="fetch or verify model packs")
    models.add_argument("action", choices=["fetch", "verify"])
    models.add_argument("--pack", choices=pack_names(), help="model pack (default: settings)")
    models.add_argument("--model-dir", type=Path, help="model directory (default: settings)")

    up = commands.add_parser("up", help="run the whole service on this machine")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")

    submit = commands.add_parser("submit", help="send an image to a running server")
    submit.add_argument("image", type=Path, metavar="IMAGE")
    submit.add_argument("--server", default="http://127.0.0.1:8000")
    submit.add_argument("--wait", action="store_true", help="wait for the analysis to finish")
    submit.add_argument("--out", type=Path, help="save the annotated image here (implies --wait)")
    submit.add_argument("--callback-url", help="URL to POST the finished analysis to")
    submit.add_argument("--api-key", help="API key (default: $READFACE_API_KEY)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `readface` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        get_settings()  # a setting that cannot be read is named here, not in a traceback
    except ValueError as error:
        print(f"readface: {error}", file=sys.stderr)
        return 2
    if args.command == "analyze":
        from cli.analyze import analyze_files

        return analyze_files(args.images, out_dir=args.out, pack_name=args.pack)
    if args.command == "models":
        from cli.models import run_models_command

        return run_models_command(args.action, pack_name=args.pack, model_dir=args.model_dir)
    if args.command == "up":
        from cli.up import run_up

        return run_up(host=args.host, port=args.port, workers=args.workers)
    from cli.submit import submit_image

    return submit_image(args)
