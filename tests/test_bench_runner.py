"""``python -m bench --only``: the sections it ran are replaced, every other one is kept."""

from __future__ import annotations

from bench.runner import BEGIN, BENCHES, END, Outcome, render, render_some

FACTS = [("date", "D"), ("commit", "C"), ("load average at start", "L")]


def _outcome(name: str, stdout: str) -> Outcome:
    bench = next(b for b in BENCHES if b.name == name)
    return Outcome(bench, ["python", *bench.command], 1.0, 0, stdout, "")


def test_a_partial_run_replaces_its_sections_and_keeps_the_others() -> None:
    full = render([_outcome("catalog", "old catalog\n"), _outcome("sinks", "old sinks\n")],
                  "python -m bench", FACTS)  # fmt: skip
    some = render_some(full, [_outcome("sinks", "new sinks\n")], "python -m bench --only sinks",
                       FACTS)  # fmt: skip
    assert some.startswith(BEGIN) and some.endswith(END)
    assert "old catalog" in some and "old sinks" not in some and "new sinks" in some
    assert "Run alone: `python -m bench --only sinks`, D, commit C" in some
    assert some.index("### Classification cost") < some.index("### SIEM sinks")
    assert "Command: `python -m bench`" in some  # the machine table is the full run's
    assert render_some(some, [], "python -m bench --only", FACTS) == some
