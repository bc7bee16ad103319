"""The protocol-independent machinery every protocol package builds on: namespaces and links
(topology, link, frames), processes in cgroups, the bed and the case, verdicts and the
requirements they cite, named RFC time bounds, the clock, and the target registry.

Nothing in here imports a protocol package (harness.tcp, harness.dhcp, ...) or the report.
"""
