"""Pictures of a test's connection: a ladder diagram and a tcptrace-style time-sequence plot,
both as standalone SVG."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.core.segment import Note, Segment
from harness.report.plot import Series, line_chart
from reference_impl.wire.tcp import ACK

ROW_H = 26
LEFT_X, RIGHT_X = 170, 610
WIDTH = 780


def _label(seg: Segment) -> str:
    ack = f" ack={seg.ack}" if seg.flags & ACK else ""
    return f"[{seg.flag_letters}] seq={seg.seq}{ack} len={seg.length} win={seg.window}"


def ladder_svg(segments: Sequence[Segment], notes: Sequence[Note] = (), title: str = "") -> str:
    """Tester on the left, target on the right, one arrow per segment in time order; time
    since the first segment on the left margin. Missing segments are dashed red arrows,
    unexpected ones are drawn red."""
    events: list[tuple[int, str, object]] = [(s.ts_ns, "seg", s) for s in segments]
    events += [(n.ts_ns, "note", n) for n in notes if n.kind == "missing"]
    events.sort(key=lambda e: e[0])
    unexpected = {n.ts_ns for n in notes if n.kind == "unexpected"}
    t0 = events[0][0] if events else 0
    height = 70 + ROW_H * (len(events) + 1)
    parts = _canvas(height, title)
    for row, (ts, kind, item) in enumerate(events):
        y = 62 + row * ROW_H
        parts.append(f'<text x="8" y="{y + 4}" fill="#666">+{(ts - t0) / 1e6:9.3f} ms</text>')
        if kind == "seg":
            assert isinstance(item, Segment)
            colour = "#c62828" if ts in unexpected else "#1f4e9c" if item.from_tester else "#2e7d32"
            parts.append(_arrow(y, item.from_tester, colour, _label(item), dashed=False))
        else:
            assert isinstance(item, Note)
            if item.kind == "missing":
                parts.append(
                    _arrow(y, False, "#c62828", f"expected, never seen: {item.text}", dashed=True)
                )
    parts.append("</svg>")
    return "\n".join(parts)


def message_ladder_svg(rows: Sequence[tuple[int, bool, str]], title: str = "") -> str:
    """The same picture for any protocol: (kernel time ns, sent by the tester, label)."""
    t0 = rows[0][0] if rows else 0
    parts = _canvas(70 + ROW_H * (len(rows) + 1), title)
    for row, (ts, from_tester, label) in enumerate(rows):
        y = 62 + row * ROW_H
        parts.append(f'<text x="8" y="{y + 4}" fill="#666">+{(ts - t0) / 1e6:9.3f} ms</text>')
        colour = "#1f4e9c" if from_tester else "#2e7d32"
        parts.append(_arrow(y, from_tester, colour, label, dashed=False))
    parts.append("</svg>")
    return "\n".join(parts)


def _canvas(height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="monospace" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-family="sans-serif" '
        f'font-size="13">{escape(title)}</text>',
        f'<text x="{LEFT_X}" y="40" text-anchor="middle" font-family="sans-serif">tester</text>',
        f'<text x="{RIGHT_X}" y="40" text-anchor="middle" font-family="sans-serif">target</text>',
        f'<line x1="{LEFT_X}" y1="48" x2="{LEFT_X}" y2="{height - 10}" stroke="#444"/>',
        f'<line x1="{RIGHT_X}" y1="48" x2="{RIGHT_X}" y2="{height - 10}" stroke="#444"/>',
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" '
        'orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="context-stroke"/></marker></defs>',
    ]


def _arrow(y: float, rightward: bool, colour: str, label: str, *, dashed: bool) -> str:
    x1, x2 = (LEFT_X, RIGHT_X) if rightward else (RIGHT_X, LEFT_X)
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    mid = (LEFT_X + RIGHT_X) / 2
    return (
        f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y + ROW_H * 0.6}" stroke="{colour}" '
        f'stroke-width="1.5" marker-end="url(#arrow)"{dash}/>'
        f'<text x="{mid}" y="{y - 3}" text-anchor="middle" fill="{colour}">{escape(label)}</text>'
    )


def time_sequence_svg(segments: Sequence[Segment], title: str = "") -> str:
    """tcptrace style, for the data one side sends: sequence numbers of its segments against
    time, with the other side's ACK line and the right edge of its advertised window."""
    sender_is_tester = sum(s.length for s in segments if s.from_tester) >= sum(
        s.length for s in segments if not s.from_tester
    )
    data = [s for s in segments if s.from_tester == sender_is_tester and s.length]
    acks = [s for s in segments if s.from_tester != sender_is_tester and s.flags & ACK]
    t0 = min((s.ts_ns for s in segments), default=0)

    def ms(seg: Segment) -> float:
        return (seg.ts_ns - t0) / 1e6

    who = "tester" if sender_is_tester else "target"
    top = max([s.seq + s.length for s in data] + [s.ack for s in acks] + [1]) * 1.5
    edges: list[float] = [s.ack + s.window for s in acks]
    window_label = "ACK + advertised window"
    if any(edge > top for edge in edges):  # a large window would flatten the rest
        edges = [min(edge, top) for edge in edges]
        window_label += " (clipped)"
    return line_chart(
        [
            Series(
                f"{who} data (segment end)", [ms(s) for s in data], [s.seq + s.length for s in data]
            ),
            Series("ACK", [ms(s) for s in acks], [s.ack for s in acks]),
            Series(window_label, [ms(s) for s in acks], edges, dashed=True),
        ],
        title=title or f"time-sequence: data sent by the {who}",
        xlabel="time (ms)",
        ylabel="relative sequence number",
    )
