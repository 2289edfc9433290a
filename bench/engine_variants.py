"""The engines a bench compares, each "engine precision" (cv2.dnn, the reference, then OpenVINO
exact, fast and int8), and the command-line options of a bench that runs one of them or that
varies which networks stay fp32 under `fast` and `int8`."""

from __future__ import annotations

import argparse
import dataclasses

from shared.result_values import ENGINES, EXACT, FAST, INT8, PRECISIONS
from shared.settings import Settings, get_settings
from worker.options import SHIPPED, PipelineOptions
from worker.pipeline import Pipeline, load_pipeline

# Each variant by name, "engine precision"; the first is the reference.
VARIANTS = {
    f"{engine} {precision}": (engine, precision)
    for engine, precision in (
        ("opencv", EXACT),
        ("openvino", EXACT),
        ("openvino", FAST),
        ("openvino", INT8),
    )
}


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """--engine and --precision, for a bench that runs one engine (default: the settings')."""
    parser.add_argument("--engine", choices=ENGINES, default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default=None)


def engine_settings(args: argparse.Namespace) -> Settings:
    """The environment's settings with the engine and precision of add_engine_options."""
    settings = get_settings()
    return dataclasses.replace(
        settings,
        engine=args.engine or settings.engine,
        precision=args.precision or settings.precision,
    )


def add_full_precision_option(parser: argparse.ArgumentParser) -> None:
    """--full-precision ROLE,ROLE: the networks computing in fp32 under both `fast` and `int8`
    (default: what ships, PipelineOptions.full_precision and int8_full_precision; "" for
    none)."""
    shipped = f"{','.join(SHIPPED.full_precision)} under fast, "
    shipped += f"{','.join(SHIPPED.int8_full_precision) or 'none'} under int8"
    parser.add_argument(
        "--full-precision",
        default=None,
        help=f"comma-separated manifest roles kept fp32 under fast and int8 (default: {shipped}; "
        "'' for none)",
    )


def full_precision_options(args: argparse.Namespace) -> PipelineOptions:
    """The shipped options with add_full_precision_option's networks."""
    if args.full_precision is None:
        return SHIPPED
    roles = tuple(role for role in args.full_precision.split(",") if role)
    return dataclasses.replace(SHIPPED, full_precision=roles, int8_full_precision=roles)


def variant_pipelines(
    settings: Settings, options: PipelineOptions = SHIPPED
) -> dict[str, Pipeline]:
    """A pipeline per VARIANTS entry, named "engine precision", the reference first."""
    return {
        name: load_pipeline(
            dataclasses.replace(settings, engine=engine, precision=precision), options=options
        )
        for name, (engine, precision) in VARIANTS.items()
    }
