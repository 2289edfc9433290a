"""Every READFACE_* setting, read once from the environment into one typed object."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.result_values import ATTRIBUTES, REQUIRED_ATTRIBUTES
from shared.tenants import ApiKey, parse_api_keys

DAY_SECONDS = 24 * 3600
# Defaults that must not depend on the working directory: `readface` runs from anywhere.
PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration; see the README's settings table for each meaning."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Replicas that must hold a new job (claim and message) before the API answers 202: Redis
    # WAIT, shared/store/replication.py. 1 under Sentinel, so a failover cannot lose it.
    redis_ack_replicas: int = 0
    key_prefix: str = "readface:"
    model_dir: Path = PROJECT_DIR / "models"
    data_dir: Path = PROJECT_DIR / "var"
    model_pack: str = "default"
    result_ttl: int = 7 * DAY_SECONDS
    upload_ttl: int = 3600
    max_upload_bytes: int = 20 * 1024 * 1024
    # A 48 MP phone JPEG is 8064x6048; shared/imageinfo.py caps formats decoded at full size lower.
    max_pixels: int = 50_000_000
    # Five uploads at the size limit may wait per client, each counted as its work at least
    # (shared/work_quota.py); beyond that, 429 until some end.
    max_queued_bytes_per_client: int = 100 * 1024 * 1024
    min_face_score: float = 0.5
    # Inference engine (opencv|openvino) and precision (exact|fast|int8): worker/models/engine.py.
    # `int8` (res10 quantised to int8, the other networks in bf16 where the CPU has it; `fast`
    # keeps AgeGenderNet in fp32, worker/options.py says why) is held to bench.accuracy.parity's
    # gates, which allow the noise of the reference's own input moved by one pixel (issue 30;
    # docs/models.md says which answers move and by how much).
    engine: str = "openvino"
    precision: str = "int8"
    # What each face's result holds (READFACE_ATTRIBUTES, comma-separated): gender and age always;
    # leaving out `expression` leaves the field out and the expression network unloaded.
    attributes: tuple[str, ...] = ATTRIBUTES
    api_keys: tuple[ApiKey, ...] = ()  # hashed: shared/tenants.py
    webhook_secret: str = ""
    callback_allow_private: bool = False
    rate_limit_per_minute: int = 600
    proxy_hops: int = 0
    task_soft_time_limit: float = 60
    task_hard_time_limit: float = 90
    callback_timeout: float = 10.0
    callback_max_attempts: int = 8
    callback_backoff: float = 10.0
    analyze_max_retries: int = 3
    # Each analysis process's RSS stays under this whatever the input (worker/memory_limit.py).
    worker_memory_mb: int = 600
    # Slow or idle clients (api/gunicorn_config.py, api/request_body.py): a request's headers
    # must arrive within the first (else the connection closes), its body within the second
    # (else 408); connections the API serves at once (long-polls, uploads, idle keep-alives).
    api_header_timeout: float = 10.0
    api_body_timeout: float = 60.0
    api_connections: int = 2000
    # readface's own log lines (shared/logs.py): JSON, what compose's and Kubernetes' log
    # collectors parse without a pattern per line; `text` for a person at a terminal.
    log_format: str = "json"
    # host:port a worker's main process serves its processes' metrics on (worker/metrics.py);
    # empty: none. Needs PROMETHEUS_MULTIPROC_DIR in the worker's environment.
    worker_metrics_bind: str = ""
    # Where upload bytes and annotated images live (shared/blobs): file://DIR or
    # s3://BUCKET/PREFIX; empty means the data directory's blobs/.
    blob_url: str = ""
    # New uploads get 503 while the blob store holds this many bytes (0: no cap), or while a
    # file:// store's disk has less than the floor free: room kept for the images of the jobs
    # already accepted, and for everything else on that disk.
    blob_max_bytes: int = 0
    blob_min_free_bytes: int = 1024**3
    # How often one of the analysis workers sweeps the blob store (shared/blobs/sweep.py).
    blob_sweep_seconds: float = 300

    def __post_init__(self) -> None:
        # Accept a str from callers that build Settings by hand; paths are joined later.
        object.__setattr__(self, "model_dir", Path(self.model_dir))
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.blob_url:
            object.__setattr__(self, "blob_url", (self.data_dir / "blobs").resolve().as_uri())


_TRUE = {"1", "true", "yes", "on"}


def _env(name: str) -> str | None:
    value = os.environ.get(f"READFACE_{name}")
    return value if value not in (None, "") else None


def parse_attributes(value: str) -> tuple[str, ...]:
    """READFACE_ATTRIBUTES as a tuple in the contract's order; ValueError naming what is wrong
    (an unknown name, or gender or age left out: the contract's faces always carry them)."""
    names = {name.strip().lower() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(ATTRIBUTES))
    if unknown:
        raise ValueError(
            f"READFACE_ATTRIBUTES: unknown {', '.join(unknown)}; known: {', '.join(ATTRIBUTES)}"
        )
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in names]
    if missing:
        raise ValueError(
            f"READFACE_ATTRIBUTES: {', '.join(missing)} cannot be left out "
            f"(only expression can); e.g. READFACE_ATTRIBUTES=gender,age"
        )
    return tuple(name for name in ATTRIBUTES if name in names)


def get_settings() -> Settings:
    """Build the settings from the current environment (call it; don't cache at import)."""
    defaults = Settings()
    keys = _env("API_KEYS")
    allow_private = _env("CALLBACK_ALLOW_PRIVATE")
    return Settings(
        redis_url=_env("REDIS_URL") or defaults.redis_url,
        redis_ack_replicas=int(_env("REDIS_ACK_REPLICAS") or defaults.redis_ack_replicas),
        key_prefix=_env("KEY_PREFIX") or defaults.key_prefix,
        model_dir=Path(_env("MODEL_DIR") or defaults.model_dir),
        data_dir=Path(_env("DATA_DIR") or defaults.data_dir),
        model_pack=_env("MODEL_PACK") or defaults.model_pack,
        result_ttl=int(_env("RESULT_TTL") or defaults.result_ttl),
        upload_ttl=int(_env("UPLOAD_TTL") or defaults.upload_ttl),
        max_upload_bytes=int(_env("MAX_UPLOAD_BYTES") or defaults.max_upload_bytes),
        max_pixels=int(_env("MAX_PIXELS") or defaults.max_pixels),
        max_queued_bytes_per_client=int(
            _env("MAX_QUEUED_BYTES_PER_CLIENT") or defaults.max_queued_bytes_per_client
        ),
        min_face_score=float(_env("MIN_FACE_SCORE") or defaults.min_face_score),
        engine=_env("ENGINE") or defaults.engine,
        precision=_env("PRECISION") or defaults.precision,
        attributes=parse_attributes(_env("ATTRIBUTES") or ",".join(defaults.attributes)),
        api_keys=parse_api_keys(keys or ""),
        webhook_secret=_env("WEBHOOK_SECRET") or defaults.webhook_secret,
        callback_allow_private=(allow_private or "").lower() in _TRUE,
        rate_limit_per_minute=int(_env("RATE_LIMIT_PER_MINUTE") or defaults.rate_limit_per_minute),
        proxy_hops=int(_env("PROXY_HOPS") or defaults.proxy_hops),
        task_soft_time_limit=float(_env("TASK_SOFT_TIME_LIMIT") or defaults.task_soft_time_limit),
        task_hard_time_limit=float(_env("TASK_HARD_TIME_LIMIT") or defaults.task_hard_time_limit),
        callback_timeout=float(_env("CALLBACK_TIMEOUT") or defaults.callback_timeout),
        callback_max_attempts=int(_env("CALLBACK_MAX_ATTEMPTS") or defaults.callback_max_attempts),
        callback_backoff=float(_env("CALLBACK_BACKOFF") or defaults.callback_backoff),
        analyze_max_retries=int(_env("ANALYZE_MAX_RETRIES") or defaults.analyze_max_retries),
        worker_memory_mb=int(_env("WORKER_MEMORY_MB") or defaults.worker_memory_mb),
        api_header_timeout=float(_env("API_HEADER_TIMEOUT") or defaults.api_header_timeout),
        api_body_timeout=float(_env("API_BODY_TIMEOUT") or defaults.api_body_timeout),
        api_connections=int(_env("API_CONNECTIONS") or defaults.api_connections),
        log_format=_env("LOG_FORMAT") or defaults.log_format,
        worker_metrics_bind=_env("WORKER_METRICS_BIND") or defaults.worker_metrics_bind,
        blob_url=_env("BLOB_URL") or "",
        blob_max_bytes=int(_env("BLOB_MAX_BYTES") or defaults.blob_max_bytes),
        blob_min_free_bytes=int(_env("BLOB_MIN_FREE_BYTES") or defaults.blob_min_free_bytes),
        blob_sweep_seconds=float(_env("BLOB_SWEEP_SECONDS") or defaults.blob_sweep_seconds),
    )
