"""The reference DHCP server on a real interface: ``python -m harness.dhcp.refserver``.

Runs inside the target namespace. Requests arrive on an AF_PACKET socket (a client without
an address sends from 0.0.0.0, which a UDP socket would also see, but the reply must go to
the client's hardware address before it has an IP address, which only a packet socket can
do: RFC 2131 section 4.1). A UDP socket is bound to port 67 as well, so that the kernel
does not answer unicast requests with ICMP port unreachable; replies to a relay (giaddr)
go out through it, letting the kernel resolve the relay's MAC. Leases live in SQLite
(harness.dhcp.store), so a server killed with SIGKILL and started again loses none.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import sys
from pathlib import Path

from harness.core.clock import wall_us
from harness.dhcp import endpoint
from harness.dhcp.endpoint import interface_mac, open_sockets
from harness.dhcp.store import SqliteLeaseStore
from reference_impl.dhcp.packets import SERVER_PORT, DhcpPacket, encode
from reference_impl.dhcp.server import DhcpServer, Reply, ServerConfig

ETH_P_IP = 0x0800


def config_from_json(text: str) -> ServerConfig:
    raw = json.loads(text)
    raw["pool"] = tuple(raw["pool"])
    raw["dns"] = tuple(raw.get("dns", ()))
    return ServerConfig(**raw)


class ServerProcess:
    def __init__(self, iface: str, server: DhcpServer) -> None:
        self.iface = iface
        self.server = server
        self.mac = interface_mac(iface)
        self.raw, self.udp = open_sockets(iface, ETH_P_IP, SERVER_PORT)

    def serve(self) -> None:
        log(f"serving {self.server.config.subnet} on {self.iface} ({self.mac})")
        while True:  # on the wall clock: stored lease expiries mean the same after a restart
            timer = self.server.next_timer()
            timeout = None if timer is None else max(0.0, (timer - wall_us()) / 1e6)
            readable, _, _ = select.select([self.raw, self.udp], [], [], timeout)
            if self.udp in readable:
                self.udp.recv(65536)  # the same datagram also reached the packet socket
            if self.raw in readable:
                self.on_frame(self.raw.recv(65536))
            self.server.on_timer(now=wall_us())

    def on_frame(self, frame: bytes) -> None:
        packet = endpoint.incoming("refserver", frame, SERVER_PORT)
        if packet is None or packet.message.op != 1:
            return
        dropped = len(self.server.dropped)
        for reply in self.server.handle(packet.message, now=wall_us()):
            self.send(reply)
        for why in self.server.dropped[dropped:]:
            log(f"   no answer: {why}")
        del self.server.dropped[:]

    def send(self, reply: Reply) -> None:
        dest = reply.destination
        if not dest.mac:  # a relay agent: let the kernel resolve its MAC
            self.udp.sendto(reply.message.emit(), (dest.ip, dest.port))
            log(f"-> {reply.message.message_type} to relay {dest.ip}")
            return
        packet = DhcpPacket(
            reply.message,
            self.mac,
            dest.mac,
            self.server.config.server_id,
            dest.ip,
            SERVER_PORT,
            dest.port,
        )
        self.raw.send(encode(packet))
        log(f"-> {packet.summary()}")


def log(text: str) -> None:
    endpoint.log("refserver", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--config", required=True, help="ServerConfig as a JSON file")
    parser.add_argument("--leases", required=True, help="SQLite lease database")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = config_from_json(Path(args.config).read_text())
    store = SqliteLeaseStore(args.leases)
    try:
        ServerProcess(args.iface, DhcpServer(config, store)).serve()
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
