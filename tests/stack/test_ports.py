from __future__ import annotations

import socket

from obs_tests.stack.ports import allocate_ports, port_in_use


def test_allocate_ports_distinct_and_bindable() -> None:
    ports = allocate_ports(20)
    assert len(set(ports)) == 20
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_port_in_use_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_allocate_zero_ports() -> None:
    assert allocate_ports(0) == []
