from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from obs_tests.stack.ports import allocate_ports, listen_range, port_in_use


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


def test_ports_are_not_handed_out_twice_by_one_process() -> None:
    """Stacks started at the same time in one process never get a port another was just given."""
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: allocate_ports(25), range(40)))
    ports = [p for batch in batches for p in batch]
    assert len(ports) == len(set(ports)) == 1000


def test_ports_come_from_below_the_ephemeral_range() -> None:
    """Outgoing connections take local ports from the ephemeral range: ours are never there."""
    span = listen_range()
    assert span is not None  # Linux, default 32768-60999
    low, high = span
    assert all(low <= p < high for p in allocate_ports(50))


def test_listen_range_reads_the_kernel_setting(tmp_path: Path) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("32768\t60999\n")
    assert listen_range(str(setting)) == (10000, 32768)
    setting.write_text("10500 65000\n")  # too little room below: let the kernel pick
    assert listen_range(str(setting)) is None
    assert listen_range(str(tmp_path / "missing")) is None
