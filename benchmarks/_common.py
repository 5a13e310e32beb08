"""What the benchmark scripts share (they run as ``python benchmarks/<name>.py``, so this
module is importable beside them)."""

from __future__ import annotations


def table(rows: list[tuple], header: tuple) -> str:
    """A Markdown table, columns padded, ready for docs/benchmarks.md."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(row: tuple) -> str:
        return "| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])
