"""The RFC 9293 state diagram (section 3.3.2, figure 5) as one table."""

from __future__ import annotations

from enum import Enum


class State(Enum):
    # Members are singletons compared by identity: hash them by identity too, in C (Enum's
    # own __hash__ hashes the name in Python, several times per segment on the hot path).
    __hash__ = object.__hash__

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


class Event(Enum):
    __hash__ = object.__hash__

    OPEN_ACTIVE = "active open (send SYN)"
    OPEN_PASSIVE = "passive open (listen)"
    RCV_SYN = "SYN received (passive open or simultaneous open)"
    RCV_SYN_ACK = "SYN-ACK received"
    RCV_ACK_OF_SYN = "ACK of our SYN received"
    CLOSE = "application close (send FIN)"
    RCV_FIN = "FIN received"
    RCV_ACK_OF_FIN = "ACK of our FIN received"
    TIMEOUT_2MSL = "2 MSL timeout"
    RESET = "RST received, abort, or retransmission limit"


S, E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
    (S.CLOSED, E.OPEN_ACTIVE): S.SYN_SENT,
    (S.CLOSED, E.OPEN_PASSIVE): S.LISTEN,
    (S.LISTEN, E.RCV_SYN): S.SYN_RECEIVED,
    (S.SYN_SENT, E.RCV_SYN_ACK): S.ESTABLISHED,
    (S.SYN_SENT, E.RCV_SYN): S.SYN_RECEIVED,  # simultaneous open
    (S.SYN_SENT, E.CLOSE): S.CLOSED,
    (S.SYN_RECEIVED, E.RCV_ACK_OF_SYN): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.CLOSE): S.FIN_WAIT_1,
    (S.ESTABLISHED, E.CLOSE): S.FIN_WAIT_1,
    (S.ESTABLISHED, E.RCV_FIN): S.CLOSE_WAIT,
    (S.FIN_WAIT_1, E.RCV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, E.RCV_FIN): S.CLOSING,  # simultaneous close
    (S.FIN_WAIT_2, E.RCV_FIN): S.TIME_WAIT,
    (S.CLOSING, E.RCV_ACK_OF_FIN): S.TIME_WAIT,
    (S.CLOSE_WAIT, E.CLOSE): S.LAST_ACK,
    (S.LAST_ACK, E.RCV_ACK_OF_FIN): S.CLOSED,
    (S.TIME_WAIT, E.TIMEOUT_2MSL): S.CLOSED,
}
# Any state can be reset to CLOSED.
TRANSITIONS.update({(state, E.RESET): S.CLOSED for state in State})

SYNCHRONIZED = frozenset(
    {
        S.ESTABLISHED,
        S.FIN_WAIT_1,
        S.FIN_WAIT_2,
        S.CLOSE_WAIT,
        S.CLOSING,
        S.LAST_ACK,
        S.TIME_WAIT,
    }
)
RECEIVES_DATA = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})
CAN_SEND = frozenset({S.ESTABLISHED, S.CLOSE_WAIT})
KEEPS_ALIVE = frozenset({S.ESTABLISHED, S.CLOSE_WAIT, S.FIN_WAIT_2})  # RFC 9293 3.8.4
FIN_SENT = frozenset({S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSING, S.LAST_ACK, S.TIME_WAIT})


class Timer(Enum):
    """The connection's timers, each with its own expiry handler (RFC 9293 3.8, RFC 6298)."""

    __hash__ = object.__hash__

    RETRANSMISSION = "retransmission"  # RFC 6298
    DELAYED_ACK = "delayed ACK"  # RFC 9293 3.8.6.3, MUST-40
    PERSIST = "persist"  # RFC 9293 3.8.6.1, zero-window probes
    TIME_WAIT = "2 MSL"  # RFC 9293 3.6, MUST-13
    KEEPALIVE = "keep-alive"  # RFC 9293 3.8.4, MUST-24 to MUST-29, on request only


class TransitionError(RuntimeError):
    """An event that the state diagram does not allow in the current state (API misuse)."""


def next_state(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise TransitionError(f"{event.value} is not possible in {state.value}") from None
