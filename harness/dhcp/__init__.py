"""DHCP on the harness side: lease persistence now; daemons and targets next (issue 6)."""
