#!/usr/bin/env python3
"""A starting point for a homework TCP/IP stack that netconform can test.

Run by the harness as a ``cmd:`` target, for example:

    netconform run --target \
        "cmd:python3 examples/stack_template.py --tap {tap} --ip {ip}/{prefix} --mac {mac}"

It gets raw Ethernet frames on a TAP device and the control protocol (JSON lines, README
section "The control protocol") on stdin/stdout. This template does two things for real:
it answers ARP for its address and it speaks the control protocol. Every socket operation
answers "unsupported", so every TCP test reports UNSUPPORTED until you implement it: start
with listen/accept and the three-way handshake, then data, then close.
"""

import argparse
import fcntl
import json
import os
import select
import struct
import sys

TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def arp_reply(frame, my_mac, my_ip):
    """The reply to an ARP request for my_ip, or None (RFC 826)."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x01":
        return None
    sender_mac, sender_ip, target_ip = frame[22:28], frame[28:32], frame[38:42]
    if target_ip != my_ip:
        return None
    body = b"\x00\x01\x08\x00\x06\x04\x00\x02" + my_mac + my_ip + sender_mac + sender_ip
    return sender_mac + my_mac + b"\x08\x06" + body


def handle(request):
    """One control request -> one reply. Implement the operations here."""
    op = request.get("op")
    if op == "hello":
        return {"ok": True, "name": "template", "version": 1, "ops": ["hello", "quit"]}
    if op == "quit":
        return {"ok": True, "bye": True}
    return {"ok": False, "error": "unsupported", "message": f"{op} is not implemented yet"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tap", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--mac", required=True)
    args = parser.parse_args()
    my_ip = bytes(int(x) for x in args.ip.split("/")[0].split("."))
    my_mac = bytes.fromhex(args.mac.replace(":", ""))
    tap = open_tap(args.tap)
    stdin = sys.stdin.fileno()
    buffered = b""
    while True:
        ready, _, _ = select.select([tap, stdin], [], [])
        if tap in ready:
            reply = arp_reply(os.read(tap, 65536), my_mac, my_ip)
            if reply:
                os.write(tap, reply)
        if stdin in ready:
            chunk = os.read(stdin, 65536)
            if not chunk:
                return
            buffered += chunk
            while b"\n" in buffered:
                line, _, buffered = buffered.partition(b"\n")
                try:
                    reply = handle(json.loads(line))
                except json.JSONDecodeError as exc:
                    reply = {"ok": False, "error": "bad_request", "message": str(exc)}
                sys.stdout.write(json.dumps(reply) + "\n")
                sys.stdout.flush()
                if reply.get("bye"):
                    return


if __name__ == "__main__":
    main()
