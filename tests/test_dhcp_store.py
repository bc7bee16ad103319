"""Leases survive a SIGKILL: every address the server acknowledged is still bound after a
restart, and no address is ever handed to two clients."""

import os
import signal
import subprocess
import sys
import textwrap

from harness.dhcp.store import SqliteLeaseStore
from reference_impl.dhcp.server import DhcpServer, Lease, ServerConfig

CONFIG_ARGS = dict(
    server_id="198.18.0.1",
    subnet="198.18.0.0/16",
    pool=("198.18.1.0", "198.18.255.254"),
    lease_time_s=3600,
)

SERVER = textwrap.dedent("""
    import sys
    from harness.dhcp.store import SqliteLeaseStore
    from reference_impl.dhcp.server import DhcpServer, ServerConfig
    from reference_impl.wire.dhcp import (
        DhcpMessage, DISCOVER, REQUEST, MESSAGE_TYPE, SERVER_ID, REQUESTED_IP)
    server = DhcpServer(ServerConfig(**eval(sys.argv[2])), SqliteLeaseStore(sys.argv[1]))
    start = int(sys.argv[3])
    for n in range(start, start + 100000):
        mac = "02:00:" + n.to_bytes(4, "big").hex(":")
        discover = DhcpMessage(1, n, mac, ((MESSAGE_TYPE, bytes([DISCOVER])),))
        offer = server.handle(discover, now=0)[0]
        ip = bytes(int(x) for x in offer.message.yiaddr.split("."))
        ack = server.handle(DhcpMessage(1, n, mac, ((MESSAGE_TYPE, bytes([REQUEST])),
                            (SERVER_ID, bytes([198, 18, 0, 1])), (REQUESTED_IP, ip))), now=0)[0]
        print(mac, ack.message.yiaddr, flush=True)  # after the lease is stored
""")


def run_until_killed(db, start, leases_wanted):
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(db), repr(CONFIG_ARGS), str(start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = []
    for line in proc.stdout:
        acked.append(line.split())
        if len(acked) >= leases_wanted:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    return acked


def test_leases_survive_kill_9_and_no_address_goes_to_two_clients(tmp_path):
    db = tmp_path / "leases.sqlite"
    first = run_until_killed(db, 0, 150)
    second = run_until_killed(db, 10_000, 150)  # new clients, same database
    store = SqliteLeaseStore(db)
    leases = {lease.address: lease for lease in store.all()}
    for mac, address in first + second:
        assert leases[address].state == "bound" and leases[address].chaddr == mac
    addresses = [address for _, address in first + second]
    assert len(addresses) == len(set(addresses)), "an address was handed to two clients"


def test_store_round_trips_leases(tmp_path):
    store = SqliteLeaseStore(tmp_path / "x.sqlite")
    lease = Lease("198.18.0.9", "hw:02:00:00:00:00:01", "02:00:00:00:00:01", "bound", 5)
    store.put(lease)
    store.put(Lease("198.18.0.9", lease.client, lease.chaddr, "released", None))
    assert store.by_address("198.18.0.9").state == "released"
    assert [x.address for x in store.by_client(lease.client)] == ["198.18.0.9"]
    server = DhcpServer(ServerConfig(**CONFIG_ARGS), store)
    assert server.store is store
