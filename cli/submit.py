"""`readface submit`: send an image to a running server, optionally wait and save the result."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests

from shared.imageinfo import MEDIA_TYPES, sniff_format

WAIT_SECONDS = 30
TERMINAL = {"succeeded", "failed"}


def _fail(message: str) -> int:
    print(f"readface: {message}", file=sys.stderr)
    return 1


def _error_text(response: requests.Response) -> str:
    try:
        error = response.json()["error"]
        return f"HTTP {response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def submit_image(args: argparse.Namespace) -> int:
    """Submit; with --wait or --out, long-poll until the analysis ends. 1 on any failure."""
    try:
        data = args.image.read_bytes()
    except OSError as error:
        return _fail(f"{args.image}: {error.strerror or error}")
    try:
        media_type = MEDIA_TYPES[sniff_format(data)]
    except Exception as error:
        return _fail(f"{args.image}: {error}")
    server = args.server.rstrip("/")
    headers = {"Content-Type": media_type}
    key = args.api_key or os.environ.get("READFACE_API_KEY")
    if key:
        headers["X-API-Key"] = key
    params = {"callback_url": args.callback_url} if args.callback_url else {}
    session = requests.Session()
    try:
        response = session.post(
            f"{server}/v1/analyses", data=data, headers=headers, params=params, timeout=60
        )
        if response.status_code not in (200, 202):
            return _fail(_error_text(response))
        resource = response.json()
        deadline = time.monotonic() + 600
        while (args.wait or args.out) and resource["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                return _fail(f"analysis {resource['id']} did not finish in time")
            response = session.get(
                f"{server}/v1/analyses/{resource['id']}",
                params={"wait": WAIT_SECONDS},
                headers=headers,
                timeout=WAIT_SECONDS + 10,
            )
            if response.status_code != 200:
                return _fail(_error_text(response))
            resource = response.json()
        print(json.dumps(resource, indent=2))
        if resource["status"] == "failed":
            return 1
        if args.out and resource["status"] == "succeeded":
            image = session.get(
                f"{server}{resource['links']['annotated']}", headers=headers, timeout=60
            )
            if image.status_code != 200:
                return _fail(_error_text(image))
            args.out.write_bytes(image.content)
            print(f"readface: annotated image saved to {args.out}", file=sys.stderr)
    except requests.RequestException as error:
        return _fail(f"cannot reach {server}: {type(error).__name__}")
    return 0
