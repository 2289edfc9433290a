"""Fixtures for the browser tests: the whole service (harness/service.py) and headless chromium."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from cli.processes import free_port
from harness.paths import REPO
from harness.service import Api, running_api, running_redis, running_worker, service_env, wait_ready

# Bytes waiting per client: room for the real-photo corpus (103 MiB of quota) sent twice.
CORPUS_QUOTA = 256 * 1024 * 1024

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script, installed from the npm registry (pinned) on first use."""
    script = REPO / "scripts" / "fetch-axe-core.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip()).read_text()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as server:
        yield server.url


@pytest.fixture(scope="module")
def stack(redis_url: str) -> Iterator[Api]:
    """Redis, one real Celery worker and the API under gunicorn, as deployed, but for the
    quota of bytes waiting per client: the real-photo corpus, chosen at once, counts 103 MiB
    against it, and the default 100 MiB refused its last photo whenever the worker had not ended
    one before it (tests/e2e/test_web_real_photos.py, on a busy machine)."""
    env = service_env(redis_url, READFACE_MAX_QUEUED_BYTES_PER_CLIENT=str(CORPUS_QUOTA))
    with running_worker(env), running_api(env) as api:
        wait_ready(api)
        yield api


@pytest.fixture(scope="module")
def keyed_api(redis_url: str, stack: Api) -> Iterator[Api]:
    """A second API on the same Redis and worker, with API keys on."""
    with running_api(service_env(redis_url, READFACE_API_KEYS="s3cret")) as api:
        yield api


# The throwaway APIs below are per test. A test must name them before `browser`: fixtures are
# torn down in reverse, so chromium quits first and drops its idle keep-alive connections, which
# gunicorn would otherwise wait its whole graceful timeout for.


@pytest.fixture()
def limited_api(redis_url: str) -> Iterator[Api]:
    """An API whose rate limit (0 a minute) refuses every request; its own key prefix keeps its
    counters apart from the other APIs on this Redis."""
    env = service_env(
        redis_url, READFACE_RATE_LIMIT_PER_MINUTE="0", READFACE_KEY_PREFIX="e2e-limited:"
    )
    with running_api(env) as api:
        yield api


@pytest.fixture()
def backendless_api() -> Iterator[Api]:
    """An API with nothing listening at its Redis address and a 20 KB upload limit."""
    env = service_env(f"redis://127.0.0.1:{free_port()}/0", READFACE_MAX_UPLOAD_BYTES="20000")
    with running_api(env) as api:
        yield api


@pytest.fixture()
def idle_redis_url() -> Iterator[str]:
    """A Redis of its own that no worker serves (until a test starts one)."""
    with running_redis() as server:
        yield server.url


@pytest.fixture()
def workerless_api(idle_redis_url: str) -> Iterator[Api]:
    """An API whose uploads stay queued until the test starts a worker."""
    with running_api(service_env(idle_redis_url)) as api:
        yield api


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed (make system-deps installs them)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",  # runs as root in containers, where the sandbox cannot start
        "--disable-gpu",
        "--disable-background-networking",  # no update or safe-browsing calls: works offline
        "--disable-dev-shm-usage",  # /dev/shm is tiny in containers
        "--no-first-run",
        "--disable-component-update",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
