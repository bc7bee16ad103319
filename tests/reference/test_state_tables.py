"""The reference's state machines change state only through their tables (RFC 9293 3.3.2
figure 5 for TCP, RFC 2131 4.4 figure 5 for the DHCP client), and every event of a table
is used by the code that drives it."""

import ast
from pathlib import Path

import pytest

from reference_impl.dhcp import client
from reference_impl.tcp import connection, states

MACHINES = [
    # module, the one method that may assign .state, the event enum
    (connection, "_transition", states.Event),
    (client, "_go", client.ClientEvent),
]


def _state_assignments(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of every assignment to an attribute named ``state``."""
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef):
            continue
        for node in ast.walk(func):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Attribute) and leaf.attr == "state":
                        found.append((func.name, node.lineno))
    return found


@pytest.mark.parametrize("module,gate,events", MACHINES, ids=["tcp", "dhcp-client"])
def test_state_changes_only_through_the_table(module, gate, events):
    tree = ast.parse(Path(module.__file__).read_text())
    outside = [(f, line) for f, line in _state_assignments(tree) if f not in (gate, "__init__")]
    assert outside == [], f"state assigned outside {gate}: {outside}"


@pytest.mark.parametrize("module,gate,events", MACHINES, ids=["tcp", "dhcp-client"])
def test_every_event_is_used(module, gate, events):
    source = Path(module.__file__).read_text()
    unused = [e.name for e in events if f".{e.name})" not in source]
    assert unused == [], f"events no code raises: {unused}"


def test_the_tcp_connection_starts_closed_and_listens_through_the_table():
    assert states.next_state(states.State.CLOSED, states.Event.OPEN_PASSIVE) is states.State.LISTEN
    with pytest.raises(states.TransitionError):
        states.next_state(states.State.LISTEN, states.Event.RCV_FIN)


def test_the_dhcp_client_refuses_an_event_figure_5_does_not_have():
    with pytest.raises(client.ClientTransitionError):
        client.next_client_state(client.ClientState.SELECTING, client.ClientEvent.ACK)
