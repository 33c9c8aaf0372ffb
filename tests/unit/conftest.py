"""Unit tests never touch the network: sockets are disabled for every test here."""
import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _no_network():
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
