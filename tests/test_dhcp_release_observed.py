"""dhclient gives its lease back from a second process: `dhclient -r` stops the running client,
sleeps a second, and only then sends the RELEASE. A release attempt that stopped watching
when the first process exited missed every one of them, and reported a client that releases
as one that never does (INFO "0 of 20 attempts").

dhcpcd removes its address right after it sends a unicast RELEASE: while the harness answered
the client's ARP for the server from Python, 17 of 20 such RELEASEs never left (INFO); the
tester namespace's kernel answers now, as a real server's host does."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_root
CLIENT_SUITE = Path(__file__).resolve().parent.parent / "suites" / "dhcp" / "test_client.py"


@pytest.mark.parametrize("client", ["dhclient", "dhcpcd"])
def test_every_release_is_seen(pytester, client):
    out = pytester.path / "verdicts.json"
    pytester.runpytest_subprocess(
        f"{CLIENT_SUITE}::test_release_is_sent_when_the_lease_is_given_up",
        f"--dhcp-client={client}",
        f"--verdicts={out}",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    rows = {row["nodeid"].split("[")[-1]: row for row in json.loads(out.read_text())}
    assert rows[f"{client}]"]["verdict"] == "PASS", rows
