#!/usr/bin/python3
"""Checks docs/PERFORMANCE.md against scripts/bench, running no benchmark (`scripts/bench --check`).

  bench-check.py PERFORMANCE.md ROOT STAGE...
  bench-check.py --write PERFORMANCE.md ROWS.tsv   (scripts/bench --write: rewrites measured rows)

Fails (exit 1), naming the line, when a table of figures has no `reproduce` column or a row has
the wrong number of cells; a `scripts/bench` command names a stage or option scripts/bench does
not take; a `cargo bench -p CRATE --bench NAME` or `cargo test -p CRATE --test NAME` names a
bench or test file that does not exist; a stage of scripts/bench has no row; or the summary
table links to a section that does not exist. Python 3's standard library only.
"""

import re
import shlex
import sys
from pathlib import Path

OPTIONS_WITH_VALUE = {"--holders", "--practices", "--runs"}


def crate_dirs(root):
    """Each workspace crate's package name → its folder."""
    out = {}
    for manifest in sorted((root / "crates").glob("*/Cargo.toml")):
        m = re.search(r'^name\s*=\s*"([^"]+)"', manifest.read_text(), re.M)
        if m:
            out[m.group(1)] = manifest.parent
    return out


def cells(line):
    """A Markdown table row's cells (no pipes inside code in this file's tables)."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def slug(heading):
    """GitHub's anchor for a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def main(argv):
    doc, root, stages = Path(argv[1]), Path(argv[2]), argv[3:]
    lines = doc.read_text(encoding="utf-8").splitlines()
    crates = crate_dirs(root)
    problems = []
    covered = set()
    anchors = {slug(l.lstrip("#")) for l in lines if l.startswith("## ")}

    def problem(n, what):
        problems.append(f"{doc.name}:{n}: {what}")

    def check_command(n, cmd):
        try:
            words = shlex.split(cmd)
        except ValueError as e:
            problem(n, f"cannot read the command {cmd!r}: {e}")
            return
        if words[:1] == ["scripts/bench"]:
            i = 1
            while i < len(words):
                w = words[i]
                if w in OPTIONS_WITH_VALUE:
                    if i + 1 >= len(words) or not words[i + 1].isdigit():
                        problem(n, f"{cmd!r}: {w} needs a number")
                    i += 2
                    continue
                if w not in stages:
                    problem(n, f"{cmd!r}: scripts/bench has no stage or option {w!r} (stages: {' '.join(stages)})")
                else:
                    covered.add(w)
                i += 1
        elif words[:2] in (["cargo", "bench"], ["cargo", "test"]):
            kind = "--bench" if words[1] == "bench" else "--test"
            folder = "benches" if words[1] == "bench" else "tests"
            crate = words[words.index("-p") + 1] if "-p" in words[:-1] else None
            target = words[words.index(kind) + 1] if kind in words[:-1] else None
            if crate not in crates:
                problem(n, f"{cmd!r}: no crate {crate!r} in crates/")
            elif target and not (crates[crate] / folder / f"{target}.rs").is_file():
                problem(n, f"{cmd!r}: no {folder}/{target}.rs in {crates[crate].relative_to(root)}")

    header = None
    for n, line in enumerate(lines, 1):
        if not line.startswith("|"):
            header = None
            continue
        row = cells(line)
        if header is None:
            header = row
            continue
        if set(line.replace("|", "").strip()) <= set("-: "):
            continue
        if header[:2] == ["capability", "goal"]:
            for target in re.findall(r"\]\(#([^)]+)\)", line):
                if target not in anchors:
                    problem(n, f"the summary links to #{target}, which is no section of {doc.name}")
            continue
        if "reproduce" not in header:
            problem(n, f"a table of figures with no 'reproduce' column (header: {' | '.join(header)})")
            continue
        if len(row) != len(header):
            problem(n, f"{len(row)} cells under a header of {len(header)}")
            continue
        for cmd in re.findall(r"`([^`]+)`", row[header.index("reproduce")]):
            check_command(n, cmd)

    for stage in stages:
        if stage not in covered:
            problems.append(f"scripts/bench: the stage {stage!r} has no row in {doc.name} whose reproduce column runs it — add its figures")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"docs/PERFORMANCE.md does not match scripts/bench: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"docs/PERFORMANCE.md: every reproduce command exists; all {len(stages)} stages of scripts/bench have rows")
    return 0


def write(doc, rows_file):
    """Rewrites the rows `scripts/bench --write` measured: each row of the file (figure, measured,
    compared with, goal, met, tab-separated) replaces the cells of the one table row whose first
    cell is that figure; its reproduce cell is kept."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    wanted = [l.split("\t") for l in Path(rows_file).read_text(encoding="utf-8").splitlines() if l]
    columns = ["figure", "measured", "compared with", "goal", "met"]
    problems = []
    for fields in wanted:
        if len(fields) != len(columns):
            problems.append(f"{rows_file}: {fields!r} has {len(fields)} fields, not {len(columns)}")
            continue
        found = []
        header = None
        for n, line in enumerate(lines):
            if not line.startswith("|"):
                header = None
                continue
            row = cells(line)
            if header is None:
                header = row
            elif row[0] == fields[0] and header[: len(columns)] == columns:
                found.append((n, row))
        if len(found) != 1:
            problems.append(f"{doc.name}: {len(found)} rows have the figure {fields[0]!r} — it must name exactly one")
            continue
        n, row = found[0]
        new = "| " + " | ".join(fields + row[len(columns):]) + " |"
        if new != lines[n]:
            print(f"{doc.name}:{n + 1}: {new}")
            lines[n] = new
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"]:
        sys.exit(write(Path(sys.argv[2]), sys.argv[3]))
    sys.exit(main(sys.argv))
