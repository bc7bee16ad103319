"""Leases in SQLite, so that a reference server killed with SIGKILL loses none.

Every ``put`` is its own committed transaction with synchronous=FULL in WAL mode: once the
server has answered ACK for a lease (it stores before it answers), the lease is on disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reference_impl.dhcp.server import Lease

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    address TEXT PRIMARY KEY,
    client TEXT NOT NULL,
    chaddr TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_us INTEGER
);
CREATE INDEX IF NOT EXISTS leases_by_client ON leases (client);
CREATE INDEX IF NOT EXISTS leases_by_expiry ON leases (expires_us)
"""


class SqliteLeaseStore:
    def __init__(self, path: Path | str) -> None:
        self.db = sqlite3.connect(
            str(path), isolation_level=None
        )  # autocommit: one put, one commit
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def _leases(self, query: str, *args: object) -> list[Lease]:
        return [Lease(*row) for row in self.db.execute(query, args)]

    def by_address(self, address: str) -> Lease | None:
        found = self._leases(
            "SELECT address, client, chaddr, state, expires_us FROM leases WHERE address = ?",
            address,
        )
        return found[0] if found else None

    def by_client(self, client: str) -> list[Lease]:
        return self._leases(
            "SELECT address, client, chaddr, state, expires_us FROM leases WHERE client = ?", client
        )

    def put(self, lease: Lease) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
            (lease.address, lease.client, lease.chaddr, lease.state, lease.expires_us),
        )

    def all(self) -> list[Lease]:
        return self._leases("SELECT address, client, chaddr, state, expires_us FROM leases")

    def next_expiry(self) -> int | None:
        (value,) = self.db.execute("SELECT MIN(expires_us) FROM leases").fetchone()
        return None if value is None else int(value)

    def due(self, now: int) -> list[Lease]:
        return self._leases(
            "SELECT address, client, chaddr, state, expires_us FROM leases WHERE expires_us <= ?",
            now,
        )

    def close(self) -> None:
        self.db.close()
