"""What does one retained result cost in Redis and in the blob store? About 18 s.

`python -m bench.speed.capacity`: what one retained result costs in Redis and in the blob store,
for a 1-face and a 10-face phone photo analysed by a local stack, and how many results 1 GiB of
Redis then holds.

Redis bytes are `MEMORY USAGE` of the analysis's keys (its job hash and result JSON). "Before" is
the layout where Redis also held the annotated JPEG (`annotated:{id}`, a string), rebuilt from the
same analysis in scratch keys: the job hash without the blob's token, plus the JPEG as a string.
"""

from __future__ import annotations

import argparse

import redis
import requests

from bench.common import save, table
from bench.stack import local_stack
from harness.images import astronaut_group, encode, phone_photo

GIB = 1024**3


def photos() -> dict[str, bytes]:
    """A 12 MP phone photo with one face, and a 3000x2700 group photo of ten."""
    group = encode(astronaut_group(10, scale=3), "JPEG", quality=90)
    return {"1 face": phone_photo(0), "10 faces": group}


def analysed(url: str, photo: bytes) -> dict:
    response = requests.post(
        f"{url}/v1/analyses", data=photo, headers={"Content-Type": "image/jpeg"}, timeout=60
    )
    response.raise_for_status()
    analysis_id = response.json()["id"]
    for _ in range(30):
        body = requests.get(f"{url}/v1/analyses/{analysis_id}?wait=10", timeout=30).json()
        if body["status"] in ("succeeded", "failed"):
            return dict(body)
    raise RuntimeError(f"analysis {analysis_id} did not end")


def memory(client: redis.Redis, *keys: str) -> int:
    return sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)


def costs(client: redis.Redis, url: str, analysis_id: str) -> dict[str, int]:
    """Redis bytes of the result now and in the old layout; its annotated image's bytes."""
    job, result = f"readface:job:{analysis_id}", f"readface:result:{analysis_id}"
    now = memory(client, job, result)
    image = requests.get(f"{url}/v1/analyses/{analysis_id}/annotated", timeout=30).content
    fields = {k: v for k, v in client.hgetall(job).items() if k != b"annotated"}
    client.hset("scratch:job", mapping=fields)
    client.set("scratch:annotated", image)
    before = memory(client, "scratch:job", result, "scratch:annotated")
    client.delete("scratch:job", "scratch:annotated")
    return {"redis_before": before, "redis_after": now, "blob": len(image)}


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    rows, summary = [], {}
    with local_stack(workers=1) as stack:
        client = redis.Redis.from_url(stack.redis_url)
        for name, photo in photos().items():
            body = analysed(stack.url, photo)
            faces = len(body["result"]["faces"])
            cost = costs(client, stack.url, body["id"])
            summary[name] = {"faces": faces, "photo_bytes": len(photo), **cost}
            rows.append(
                [
                    f"{name} ({faces} found, {len(photo) / 1e6:.1f} MB)",
                    cost["redis_before"],
                    GIB // cost["redis_before"],
                    cost["redis_after"],
                    GIB // cost["redis_after"],
                    f"{cost['redis_before'] / cost['redis_after']:.0f}x",
                    cost["blob"],
                ]
            )
    headers = [
        "retained result",
        "Redis B before",
        "per GiB before",
        "Redis B after",
        "per GiB after",
        "ratio",
        "blob B",
    ]
    print(table(headers, rows, "What one retained result costs"))
    save("capacity", summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
