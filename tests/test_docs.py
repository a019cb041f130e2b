"""The examples of docs/language.md, the user's manual, run as programs.

Format (the manual's "How to read the examples" says the same):

- A fence opened with ```k holds one complete program.  Its first lines
  may carry the conformance suite's `// args: ...` directive: options for
  `ktc run`, placed before the file name (`--ops "..."`, `--budget N`).
- The fences that follow it, before any other ```k fence, give what the
  run must produce: ```output is the exact stdout, ```stderr the exact
  stderr (diagnostics, exception reports, device logs).  At least one of
  the two must be there; a missing ```output means "prints nothing", a
  missing ```stderr "writes nothing to stderr".  `exit=N` on either fence
  is the expected exit status (default 0).  ```stderr partial is looser,
  for messages whose wording the reference leaves open: each of its lines
  must begin a line of stderr, in the same order.
- ```k pending marks the example of a feature that is not implemented yet
  (the "(1.1)" sections): it is parsed and its expectations checked for
  shape, but it is skipped; deleting the word `pending` turns it on.

Each example is written to a fresh directory as `example.k` (traces and
diagnostics name that file) and run with `python3 -m ktc.cli run`, once on
the interpreter and once with `--jit` (those runs carry the `jit` marker).
"""
from __future__ import annotations

import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MANUAL = ROOT / "docs" / "language.md"
FILE_NAME = "example.k"

OPEN = re.compile(r"^```(\S*)[ \t]*(.*?)\s*$")
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]")
DIRECTIVE = re.compile(r"^//\s*([a-z-]+)\s*:\s*(.*?)\s*$")
RESULT_KINDS = ("output", "stderr")


@dataclass
class Example:
    line: int                      # 1-based line of the ```k fence
    section: str                   # "tour" or the reference's number
    source: str
    pending: bool
    stdout: str | None = None
    stderr: str | None = None
    stderr_partial: bool = False
    status: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"s{self.section}-L{self.line}"

    @property
    def args(self) -> list[str]:
        for line in self.source.splitlines():
            m = DIRECTIVE.match(line.strip())
            if not m:
                break
            if m.group(1) == "args":
                return shlex.split(m.group(2))
        return []


def fences(text: str):
    """(line, language, info words, body) of each fenced block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"language.md:{start}: fence never closed")
        i += 1
        yield start, m.group(1), m.group(2).split(), "\n".join(body)


def parse(text: str) -> list[Example]:
    """The examples of the manual, with their expectations attached."""
    section_at = {}
    section = "tour"
    for n, line in enumerate(text.split("\n"), 1):
        m = HEADING.match(line)
        if m:
            section = m.group(1)
        section_at[n] = section
    examples: list[Example] = []
    current: Example | None = None
    for line, lang, words, body in fences(text):
        if lang == "k":
            unknown = [w for w in words if w != "pending"]
            current = Example(line, section_at[line], body + "\n",
                              "pending" in words)
            if unknown:
                current.problems.append(f"unknown words {unknown}")
            examples.append(current)
        elif lang in RESULT_KINDS:
            if current is None or getattr(
                    current, "stdout" if lang == "output" else "stderr") \
                    is not None:
                raise AssertionError(
                    f"language.md:{line}: ```{lang} without its program")
            expected = body + "\n" if body else ""
            if lang == "output":
                current.stdout = expected
            else:
                current.stderr = expected
            for w in words:
                if lang == "stderr" and w == "partial":
                    current.stderr_partial = True
                elif re.fullmatch(r"exit=\d", w):
                    current.status = int(w[5:])
                else:
                    current.problems.append(f"unknown word {w!r}")
        else:
            current = None         # shell, grammar, text: not a program
    return examples


EXAMPLES = parse(MANUAL.read_text(encoding="utf-8"))


def run_example(ex: Example, jit: bool):
    with tempfile.TemporaryDirectory(prefix="ktc-docs-") as tmp:
        path = pathlib.Path(tmp) / FILE_NAME
        path.write_text(ex.source, encoding="latin-1")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if os.environ.get("KTC_VM"):
            env["KTC_VM"] = os.path.abspath(os.environ["KTC_VM"])
        r = subprocess.run(
            [sys.executable, "-m", "ktc.cli", "run",
             *(["--jit"] if jit else []), *ex.args, FILE_NAME],
            cwd=tmp, capture_output=True, timeout=300, env=env)
    return r.returncode, r.stdout.decode("latin-1"), \
        r.stderr.decode("latin-1")


def begins_lines(wanted: str, text: str) -> bool:
    """Each line of `wanted` begins a line of `text`, in order."""
    lines = iter(text.splitlines())
    return all(any(line.startswith(w) for line in lines)
               for w in wanted.splitlines())


def check(ex: Example, jit: bool):
    if ex.pending:
        pytest.skip("pending: its feature is not implemented yet")
    status, out, err = run_example(ex, jit)
    where = f"docs/language.md:{ex.line}{' (--jit)' if jit else ''}"
    context = f"{where}\n--- stdout ---\n{out}--- stderr ---\n{err}"
    assert out == (ex.stdout or ""), context
    if ex.stderr_partial:
        assert begins_lines(ex.stderr, err), context
    else:
        assert err == (ex.stderr or ""), context
    assert status == ex.status, f"exit status {status}\n{context}"


@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example(ex: Example):
    check(ex, jit=False)


@pytest.mark.jit
@pytest.mark.parametrize("ex", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_example_jit(ex: Example):
    pytest.importorskip("ctjit")
    check(ex, jit=True)


def test_every_example_has_its_expectations():
    bad = [f"line {e.line}: {p}" for e in EXAMPLES for p in e.problems]
    bad += [f"line {e.line}: no ```output or ```stderr after the program"
            for e in EXAMPLES if e.stdout is None and e.stderr is None]
    assert not bad, "\n".join(bad)


def test_sections_keep_the_reference_numbers():
    """Code comments cite "the language reference §N": the manual keeps the
    numbers of the spec's sections, in order."""
    text = MANUAL.read_text(encoding="utf-8")
    numbers = [m.group(1) for m in map(HEADING.match, text.split("\n")) if m]
    want = [str(n) for n in range(1, 9)] + ["9", "9.1", "9.2", "9.3", "9.4",
                                            "10"]
    assert [n for n in numbers if n in want] == want


def test_manual_is_exercised():
    """Enough of the manual runs to be worth the name (a broken fence
    parser would find nothing)."""
    running = [e for e in EXAMPLES if not e.pending]
    assert len(running) >= 40
    assert {e.section for e in running} >= {
        "tour", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
