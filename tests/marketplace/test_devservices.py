"""The embedded services' port choice and failures (marketplace/devservices/), without `make run`.

Each test uses its own data folder and ports the kernel hands out, never the real defaults.
"""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from marketplace import devservices


@contextmanager
def _listening() -> Iterator[int]:
    """Another program listening on a loopback port; yields the port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def clean_ports(monkeypatch):
    # `make test` runs pytest under `devservices exec`, which sets DATABASE_URL/REDIS_URL: a test
    # of the embedded servers must not inherit them.
    for var in (*devservices.DEFAULT_PORTS, "DATABASE_URL", "REDIS_URL", "DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_a_free_default_port_is_used_as_it_is(clean_ports):
    # Given a default port nobody holds
    with _listening() as port:
        pass
    clean_ports.setitem(devservices.DEFAULT_PORTS, "PORT", port)
    # When the web port is chosen / Then it is the default
    assert devservices.choose_port("PORT", "the web server") == port


def test_a_taken_default_port_is_replaced_by_a_free_one_and_said_so(clean_ports, capsys):
    # Given another program on the default port
    with _listening() as taken:
        clean_ports.setitem(devservices.DEFAULT_PORTS, "EMBEDDED_PG_PORT", taken)
        # When the port is chosen
        chosen = devservices.choose_port("EMBEDDED_PG_PORT", "the embedded Postgres")
        # Then a free one is used, and the user is told which and how to choose
        assert chosen != taken
        assert devservices.port_free(chosen)
    out = capsys.readouterr().out
    assert f"port {taken} is taken by another program: the embedded Postgres uses 127.0.0.1:{chosen} instead" in out
    assert "set EMBEDDED_PG_PORT to choose" in out


def test_an_explicit_port_that_is_taken_is_an_error_naming_the_variable(clean_ports):
    # Given the user set the port to one another program holds
    with _listening() as taken:
        clean_ports.setenv("EMBEDDED_REDIS_PORT", str(taken))
        # When the port is chosen / Then it refuses, naming the variable to set
        with pytest.raises(devservices.DevServicesError, match=rf"EMBEDDED_REDIS_PORT={taken}: .*set EMBEDDED_REDIS_PORT"):
            devservices.choose_port("EMBEDDED_REDIS_PORT", "the embedded Redis")


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_port_that_is_not_a_number_is_an_error_naming_the_variable(clean_ports, value):
    clean_ports.setenv("PORT", value)
    with pytest.raises(devservices.DevServicesError, match=r"PORT=.* is not a port number"):
        devservices.requested_port("PORT")


@pytest.mark.integration
def test_redis_of_another_data_dir_is_not_reused_ours_is(clean_ports, tmp_path):
    # Given an embedded Redis of another data folder on what is our default port
    with _listening() as port:
        pass
    _, stop_other = devservices.start_embedded_redis(tmp_path / "other", port)
    assert stop_other is not None
    clean_ports.setitem(devservices.DEFAULT_PORTS, "EMBEDDED_REDIS_PORT", port)
    clean_ports.setenv("DATABASE_URL", "postgres://unused")  # Redis only
    clean_ports.setenv("DATA_DIR", str(tmp_path / "ours"))
    try:
        # When our services start
        services = devservices.ensure_services(prefer_local=False)
        try:
            # Then ours get a port of their own, not the other folder's server
            assert services.redis_url != f"redis://127.0.0.1:{port}/0"
            assert len(services._stoppers) == 1
            # and a second command for our folder reuses ours, on its port, and will not stop it
            again = devservices.ensure_services(prefer_local=False)
            assert again.redis_url == services.redis_url
            assert again._stoppers == []
        finally:
            services.stop()
    finally:
        stop_other()


@pytest.mark.slow
@pytest.mark.integration
def test_a_postgres_that_fails_to_start_reports_the_end_of_its_log(tmp_path):
    # Given a data folder whose configuration Postgres rejects
    data_dir: Path = tmp_path / "data"
    with _listening() as port:
        pass
    _, stop = devservices.start_embedded_postgres(data_dir, port)
    assert stop is not None
    stop()
    with (data_dir / "postgres" / "postgresql.conf").open("a") as conf:
        conf.write("shared_buffers = 'lots'\n")
    # When it is started / Then the error quotes the server log, not a traceback of pg_ctl
    with pytest.raises(devservices.DevServicesError) as error:
        devservices.start_embedded_postgres(data_dir, port)
    message = str(error.value)
    assert message.startswith(f"Postgres did not start on 127.0.0.1:{port}")
    assert 'invalid value for parameter "shared_buffers": "lots"' in message
    assert not devservices.port_open("127.0.0.1", port)
