"""Targets that are whole IP hosts: the kernel in a namespace (``linux``), the reference
host on a TAP device (``ref``) and any userspace stack (``cmd:``), all driven through the
control protocol (harness.hosts.agent). TCP, ICMP and the on-link subnet checks run on
them; the ``target`` fixture (harness.hosts.fixtures) gives a test one, started on its
own topology.
"""
