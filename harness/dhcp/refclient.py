"""The reference DHCP client on a real interface: ``python -m harness.dhcp.refclient``.

Runs inside the target namespace, like any DHCP client daemon: sends and receives on an
AF_PACKET socket, checks an offered address with an ARP probe before using it (RFC 2131
section 4.4.1, probe format of RFC 5227 section 2.1.1), configures the bound address and
netmask on the interface (inside its own namespace only) and removes it when the lease
ends. SIGUSR2 releases the lease (4.4.6); SIGTERM stops the client without releasing.
The lease is remembered in ``--lease-file`` so that a restart begins in INIT-REBOOT.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import random
import select
import signal
import sys
from pathlib import Path

from pyroute2 import IPRoute

from harness.core.clock import now_us, receive_until
from harness.dhcp import endpoint
from harness.dhcp.endpoint import interface_mac, open_sockets
from reference_impl.dhcp.client import ClientState, DhcpClient, Outgoing
from reference_impl.dhcp.packets import (
    CLIENT_PORT,
    SERVER_PORT,
    DhcpPacket,
    arp_frame,
    decode_arp,
    encode,
)
from reference_impl.wire import arp

ETH_P_ALL = 0x0003
ARP_PROBE_WAIT_S = 1.0  # RFC 5227 2.1.1 allows 1-2 s; one probe, then decide


class ClientProcess:
    def __init__(self, iface: str, lease_file: Path) -> None:
        self.iface = iface
        self.lease_file = lease_file
        self.mac = interface_mac(iface)
        rng = random.SystemRandom()
        self.client = DhcpClient(
            self.mac, xid=lambda: rng.getrandbits(32), jitter=lambda: rng.uniform(-1.0, 1.0)
        )
        self.raw, self.udp = open_sockets(iface, ETH_P_ALL, CLIENT_PORT)  # ARP and IP
        self.server_mac = "ff:ff:ff:ff:ff:ff"
        self.configured: tuple[str, int] | None = None
        self.release_requested = False
        # Signals interrupt the select below through this pipe (PEP 475 would otherwise
        # resume the select and leave a RELEASE waiting for the next timer).
        self.wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w)

    def run(self) -> None:
        previous = self._remembered()
        self.send(self.client.start(now=now_us(), previous=previous))
        while True:
            if self.release_requested:
                self.release_requested = False
                self.send(self.client.release(now=now_us()))
                self.apply()
            timer = self.client.next_timer()
            timeout = None if timer is None else max(0.0, (timer - now_us()) / 1e6)
            watched = [self.raw.fileno(), self.udp.fileno(), self.wakeup_r]
            readable, _, _ = select.select(watched, [], [], timeout)
            if self.wakeup_r in readable:
                os.read(self.wakeup_r, 64)
            if self.udp.fileno() in readable:
                self.udp.recv(65536)  # seen on the packet socket too
            if self.raw.fileno() in readable:
                self.on_frame(self.raw.recv(65536))
            self.send(self.client.on_timer(now=now_us()))
            self.apply()

    def on_frame(self, frame: bytes) -> None:
        packet = endpoint.incoming("refclient", frame, CLIENT_PORT)
        if packet is None:
            return
        before = self.client.state
        self.send(self.client.receive(packet.message, now=now_us()))
        if self.client.state == ClientState.CHECKING and before != ClientState.CHECKING:
            self.server_mac = packet.eth_src
            conflict = self.probe(packet.message.yiaddr)
            self.send(self.client.arp_result(conflict=conflict, now=now_us()))
        self.apply()

    def probe(self, address: str) -> bool:
        """One ARP probe (sender address 0.0.0.0); any ARP from ``address`` is a conflict."""
        zero = "00:00:00:00:00:00"
        self.raw.send(arp_frame(arp.REQUEST, self.mac, "0.0.0.0", zero, address))
        log(f"ARP probe for {address}")
        for frame in receive_until(self._raw_frame, ARP_PROBE_WAIT_S):
            reply = decode_arp(frame)
            if reply and reply.sender_ip == address and reply.sender_mac != self.mac:
                log(f"{address} is in use by {reply.sender_mac}")
                return True
        return False

    def _raw_frame(self, timeout: float) -> bytes | None:
        if not select.select([self.raw], [], [], timeout)[0]:
            return None
        return self.raw.recv(65536)

    def send(self, outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            dest = out.destination
            mac = dest.mac or self.server_mac
            packet = DhcpPacket(
                out.message, self.mac, mac, out.source_ip, dest.ip, CLIENT_PORT, SERVER_PORT
            )
            self.raw.send(encode(packet))
            log(f"-> {packet.summary()} [{self.client.state.value}]")

    def apply(self) -> None:
        """Make the interface match the binding; remember it for INIT-REBOOT."""
        binding = self.client.binding
        wanted = None
        if binding is not None and self.client.state != ClientState.CHECKING:
            mask = binding.netmask or "255.255.255.0"
            wanted = (binding.address, ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen)
        if wanted == self.configured:
            return
        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname=self.iface)[0]
            if self.configured:
                ipr.addr(
                    "del", index=index, address=self.configured[0], prefixlen=self.configured[1]
                )
            if wanted:
                ipr.addr("add", index=index, address=wanted[0], prefixlen=wanted[1])
        log(f"interface: {wanted[0] + '/' + str(wanted[1]) if wanted else 'no address'}")
        self.configured = wanted
        if binding is not None:
            self.lease_file.write_text(json.dumps({"address": binding.address}))
        else:
            self.lease_file.unlink(missing_ok=True)

    def _remembered(self) -> str | None:
        try:
            return str(json.loads(self.lease_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            return None


def log(text: str) -> None:
    endpoint.log("refclient", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--lease-file", required=True, type=Path)
    args = parser.parse_args(argv)
    process = ClientProcess(args.iface, args.lease_file)

    def release(*_: object) -> None:
        process.release_requested = True

    signal.signal(signal.SIGUSR2, release)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        process.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
