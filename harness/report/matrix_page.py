"""The class matrix a teacher reads, rendered from matrix.json's data: scores first, then
requirements by topic, and one page per stack that a student can be sent."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from harness.core.verdicts import COUNTED, TestVerdict

COLOURS = {
    "PASS": "#2e7d32",
    "FAIL": "#c62828",
    "WARN": "#ef6c00",
    "INFO": "#1565c0",
    "UNSUPPORTED": "#757575",
    "ERROR": "#6a1b9a",
}
TOPICS = (
    "handshake",
    "acknowledgement",
    "retransmission",
    "congestion",
    "flow-control",
    "close",
    "errors",
    "options",
    "transfer",
    "on-link",
)


def markdown(data: dict[str, Any]) -> str:
    stacks = data["stacks"]
    lines = ["| stack | score | |", "|---|---|---|"]
    for s in sorted(stacks, key=lambda s: -s["score"]):
        lines.append(f"| {s['name']} | {s['score']:.0%} | {s['summary']} |")
    lines += [
        "",
        "| requirement | " + " | ".join(s["name"] for s in stacks) + " |",
        "|---|" + "---|" * len(stacks),
    ]
    for req in data["requirements"]:
        key = req["key"]
        lines.append(f"| {key} | " + " | ".join(s["cells"][key] for s in stacks) + " |")
    notes = [f"- {s['name']}: {s['note'] or s['crash']}" for s in stacks if s["note"] or s["crash"]]
    return "\n".join([*lines, *(["", *notes] if notes else [])]) + "\n"


STYLE = """
body { font-family: sans-serif; margin: 1.5em 2em; color: #222; }
h1 { margin: 0 0 .3em; font-size: 1.6em; }
p.lead { margin: 0 0 1em; color: #444; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; }
th { background: #f4f4f4; }
#scores th { cursor: pointer; user-select: none; }
#scores td.score { font-weight: bold; font-size: 15px; text-align: right; }
td.v, span.v { color: white; text-align: center; font-size: 12px; padding: 2px 6px; }
td.v a, span.v a { color: white; text-decoration: none; }
tr.topic th { text-align: left; background: #e3eaf5; font-size: 14px; }
th.req { text-align: left; font-weight: normal; white-space: nowrap; }
td.summary { color: #444; max-width: 32em; }
details pre { white-space: pre-wrap; max-width: 60em; font-size: 11px; }
"""

SCRIPT = """
for (const th of document.querySelectorAll('#scores th')) {
  th.addEventListener('click', () => {
    const body = document.querySelector('#scores tbody');
    const col = th.cellIndex, rows = [...body.rows];
    const value = r => r.cells[col].dataset.sort ?? r.cells[col].textContent;
    const numeric = rows.every(r => !isNaN(parseFloat(value(r))));
    const dir = th.dataset.dir === 'desc' ? 1 : -1;
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    rows.sort((a, b) => dir * (numeric ? parseFloat(value(a)) - parseFloat(value(b))
                                       : value(a).localeCompare(value(b))));
    rows.forEach(r => body.appendChild(r));
  });
}
// Where the score table ends, for the layout check (tests/test_report_browser.py).
document.body.dataset.scoresBottom =
  Math.round(document.getElementById('scores').getBoundingClientRect().bottom);
"""


def _cell(verdict: str, href: str, title: str = "") -> str:
    tip = f' title="{html.escape(title)}"' if title else ""
    return (
        f'<td class="v" style="background:{COLOURS.get(verdict, "#999")}"{tip}>'
        f'<a href="{html.escape(href)}">{verdict}</a></td>'
    )


def _stack_name_cell(stack: dict[str, Any]) -> str:
    name = f'<a href="{html.escape(stack["page"])}">{html.escape(stack["name"])}</a>'
    why = stack["note"] or stack["crash"]
    if why:
        first = why.strip().splitlines()[0][:120]
        name += (
            f"<details><summary>{html.escape(first)}</summary>"
            f"<pre>{html.escape(why[-2000:])}</pre></details>"
        )
    return f"<td>{name}</td>"


def _score_rows(stacks: list[dict[str, Any]]) -> str:
    rows = []
    for s in sorted(stacks, key=lambda s: -s["score"]):
        counts = "".join(f'<td data-sort="{s["counts"][v]}">{s["counts"][v]}</td>' for v in COUNTED)
        rows.append(
            f"<tr>{_stack_name_cell(s)}"
            f'<td class="score" data-sort="{s["score"]}">{s["score"]:.0%}</td>'
            f'<td data-sort="{s["passed"]}">{s["passed"]} of {s["checked"]}</td>{counts}'
            f'<td data-sort="{s["seconds"]}">{s["seconds"]:.0f} s</td>'
            f'<td><a href="{html.escape(s["report"])}">Allure report</a></td></tr>'
        )
    return "".join(rows)


def _requirement_rows(data: dict[str, Any]) -> str:
    stacks, rows, topic = data["stacks"], [], None
    for req in data["requirements"]:
        if req["topic"] != topic:
            topic = req["topic"]
            rows.append(f'<tr class="topic"><th colspan="{2 + len(stacks)}">{topic}</th></tr>')
        key = req["key"]
        cells = "".join(
            _cell(s["cells"][key], s["report"], s["reasons"].get(key, s["note"])) for s in stacks
        )
        rows.append(
            f'<tr><th class="req">{html.escape(key)}</th>'
            f'<td class="summary">{html.escape(req["summary"])}</td>{cells}</tr>'
        )
    return "".join(rows)


def matrix_html(data: dict[str, Any]) -> str:
    stacks = data["stacks"]
    heads = "".join(f"<th>{v}</th>" for v in COUNTED)
    names = "".join(
        f'<th><a href="{html.escape(s["page"])}">{html.escape(s["name"])}</a></th>' for s in stacks
    )
    legend = " ".join(
        f'<span class="v" style="background:{c}">{v}</span>' for v, c in COLOURS.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>netconform matrix</title>
<style>{STYLE}</style></head><body>
<h1>netconform matrix</h1>
<p class="lead">{len(stacks)} stacks, {len(data["requirements"])} requirements checked by the
suites whose subject is the stack. Score: requirements passed over requirements checked
(UNSUPPORTED and ERROR count as not passed). Click a column to sort; a stack's name opens its
own page.</p>
<table id="scores"><thead><tr><th>stack</th><th>score</th><th>passed</th>{heads}<th>time</th>
<th>report</th></tr></thead><tbody>{_score_rows(stacks)}</tbody></table>
<p>Legend: {legend}. Hover a cell for the test's reason; click it for the Allure report.</p>
<table id="matrix"><thead><tr><th>requirement</th><th>in our words</th>{names}</tr></thead>
<tbody>{_requirement_rows(data)}</tbody></table>
<script>{SCRIPT}</script>
</body></html>
"""


def stack_html(stack: dict[str, Any], tests: Sequence[TestVerdict]) -> str:
    """One stack's page: its score, why it stopped (if it did), and every test's verdict."""
    why = stack["note"] or stack["crash"]
    rows, topic = [], None
    for test in sorted(tests, key=lambda t: (_topic_rank(t.topic), t.nodeid)):
        if test.topic != topic:
            topic = test.topic
            rows.append(f'<tr class="topic"><th colspan="4">{topic}</th></tr>')
        rows.append(
            f"<tr><td>{html.escape(test.test)}</td><td>{html.escape(test.requirement)}</td>"
            f"{_cell(test.verdict, 'allure-report/index.html')}"
            f"<td>{html.escape(test.message[:400])}</td></tr>"
        )
    stopped = f"<p><b>Stopped:</b></p><pre>{html.escape(why[-3000:])}</pre>" if why else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>netconform: {html.escape(stack["name"])}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(stack["name"])}: {stack["score"]:.0%}</h1>
<p class="lead">{html.escape(stack["summary"])}. The <a href="allure-report/index.html">Allure
report</a> has every test's packets, ladder diagram and expected-versus-actual;
<a href="../index.html">the whole class</a>.</p>
{stopped}
<table><thead><tr><th>test</th><th>requirement</th><th>verdict</th><th>why</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
</body></html>
"""


def _topic_rank(topic: str) -> int:
    return TOPICS.index(topic) if topic in TOPICS else len(TOPICS)
