"""ICMP echo (RFC 792, RFC 1122 3.2.2): the smallest protocol package, and the example that
CONTRIBUTING.md walks through. The tester pings a host target (harness.hosts) and checks
the replies; nothing here is TCP's."""
