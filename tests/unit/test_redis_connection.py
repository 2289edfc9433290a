"""READFACE_REDIS_URL's sentinel:// form, read the same way by the store and the broker."""

from __future__ import annotations

import pytest
from kombu import Connection

from shared.celery_app import consumer_transport_options, create_celery_app
from shared.redis_connection import (
    SentinelUrl,
    broker_sentinel_options,
    broker_url,
    parse_sentinel_url,
    redis_client,
)
from shared.settings import Settings

URL = "sentinel://app:p%40ss@s1:26380,s2,[::1]:26381/2?master=main&sentinel_password=s%3Acret"


def test_a_sentinel_url_names_sentinels_master_database_and_both_passwords() -> None:
    assert parse_sentinel_url(URL) == SentinelUrl(
        sentinels=(("s1", 26380), ("s2", 26379), ("::1", 26381)),
        master="main",
        db=2,
        username="app",
        password="p@ss",
        sentinel_password="s:cret",
    )


@pytest.mark.parametrize("url", ["redis://h:6379/0", "rediss://h/0", "unix:///tmp/r.sock"])
def test_other_urls_are_not_sentinel_urls(url: str) -> None:
    assert parse_sentinel_url(url) is None
    assert broker_url(url) == url
    assert broker_sentinel_options(url, {"socket_timeout": 1}) == {}


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("sentinel://s1:26379/0", "master"),
        ("sentinel:///0?master=m", "at least one"),
        ("sentinel://s1:port/0?master=m", "s1:port"),
        ("sentinel://s1/zero?master=m", "'zero'"),
    ],
)
def test_a_malformed_sentinel_url_is_refused_naming_the_part(url: str, names: str) -> None:
    with pytest.raises(ValueError, match=names):
        parse_sentinel_url(url)


def test_the_error_never_shows_the_password() -> None:
    with pytest.raises(ValueError) as refused:
        parse_sentinel_url("sentinel://:hunter2@s1/0")
    assert "hunter2" not in str(refused.value)


def test_the_broker_gets_one_url_per_sentinel_and_the_master_name() -> None:
    settings = Settings(redis_url=URL)
    connection = Connection(broker_url(URL))
    assert [Connection(alt).port for alt in connection.alt] == [26380, 26379, 26381]
    assert (connection.transport_cls, connection.userid, connection.password) == (
        "sentinel",
        "app",
        "p@ss",
    )
    options = consumer_transport_options(settings, ["analyze"])
    assert options["master_name"] == "main"
    # the sentinels get the socket timeouts and their own password, never the primary's
    kwargs = options["sentinel_kwargs"]
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (5, 5)
    assert kwargs["socket_keepalive"] is True
    assert kwargs["password"] == "s:cret" and "username" not in kwargs
    app = create_celery_app(settings)
    assert app.conf.broker_transport_options["master_name"] == "main"


def test_a_store_client_asks_the_sentinels_for_the_primary_with_the_primary_login() -> None:
    client = redis_client(URL, socket_timeout=3)
    pool = client.connection_pool
    assert pool.service_name == "main"  # type: ignore[attr-defined]
    assert pool.connection_kwargs["password"] == "p@ss"
    assert pool.connection_kwargs["db"] == 2
    sentinels = pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
    assert [s.connection_pool.connection_kwargs["port"] for s in sentinels] == [26380, 26379, 26381]
    assert sentinels[0].connection_pool.connection_kwargs["password"] == "s:cret"
