"""End-to-end fixtures: one `infer serve` (real binary, real Gemma 3 270M file, free port) per test session,
stopped with SIGTERM at the end, where its exit status must be 0 (graceful shutdown); a second one with
`--api-key` for the 401 tests. See support.py for how a server is started and watched.
"""
import pytest

from support import Server, WebhookReceiver


def _serve(*args, name):
    server = Server(*args, name=name).start()
    try:
        yield server
    finally:
        code = server.stop()
        # A clean, graceful exit is part of the contract (SIGTERM: stop accepting, finish in-flight, exit 0).
        assert code == 0, f"{name} did not exit cleanly on SIGTERM (status {code}); log tail:\n{server.log_tail()}"


@pytest.fixture(scope="session")
def server():
    """The shared server (no API key)."""
    yield from _serve(name="main")


@pytest.fixture(scope="session")
def auth_server():
    """A second server started with `--api-key`."""
    yield from _serve("--api-key", "e2e-secret-key", name="auth")


@pytest.fixture(scope="session")
def client(server):
    return server.client()


@pytest.fixture(scope="session")
def model(server):
    return server.model


@pytest.fixture(scope="module")
def receiver():
    """A webhook listener on loopback (alerts), one per test module."""
    r = WebhookReceiver()
    yield r
    r.server.shutdown()
