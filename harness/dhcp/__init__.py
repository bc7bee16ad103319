"""DHCP (RFC 2131/2132): real servers and clients as targets (daemons.py, registered in
targets.py), the harness as their clients or server (peer.py), the reference server and
client run as processes (refserver.py, refclient.py) with SQLite leases (store.py), beds and
cases (case.py), long client scenarios recorded in the background (recorded.py), fixtures."""
