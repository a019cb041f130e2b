"""Compile speed: `ktc compile` on a generated script of 10,000 lines.

    COMPILE_LINES   size of the generated script (default 10000)
    COMPILE_ROUNDS  timed runs (default 3)

The goal is under 3 s per compile, start-up included. It is reported in the
table at the end (bench/results/compile.md), not asserted: goals live in
benchmarks, and the benchmark fails only when the compile itself fails.
"""

import os
import subprocess

from benchlib import median_of, table

LINES = int(os.environ.get("COMPILE_LINES", "10000"))
ROUNDS = int(os.environ.get("COMPILE_ROUNDS", "3"))
GOAL_SECONDS = 3.0
LABEL = f"ktc compile ({LINES:,} lines)"

TABLE = table("compile", f"ktc compile of a generated {LINES:,}-line script, "
              f"median of {ROUNDS} runs",
              f"Goal: under {GOAL_SECONDS:g} s per compile, process start-up "
              "included.")
TABLE.declare(LABEL)


def unit(i):
    """One self-contained group of declarations (classes, an override, a
    method added outside its class, loops, arrays, exceptions, a Func value,
    globals), valid K per the language reference; names are suffixed with i."""
    return f"""\
// ---- unit {i} ----
class Shape{i} {{
    int w;
    int h;
    String tag = "shape{i}";
    Shape{i}(int w, int h) {{
        this.w = w;
        this.h = h;
    }}
    int area() {{ return w * h; }}
    String describe() {{ return tag + ": " + area(); }}
}}
class Box{i} extends Shape{i} {{
    int d;
    Box{i}(int w, int h, int d) {{
        super(w, h);
        this.d = d;
    }}
    int area() {{ return 2 * (w * h + h * d + w * d); }}
    int volume() {{ return w * h * d; }}
}}
int Shape{i}.perimeter() {{ return 2 * (w + h); }}
class Error{i} extends Exception {{}}
int mix{i}(int n) {{
    int total = 0;
    for (int k = 0; k < n; k++) {{
        if (k % 3 == 0) {{
            total += k;
        }} else if (k % 3 == 1) {{
            total -= 1;
        }} else {{
            total ^= k << 2;
        }}
    }}
    return total;
}}
int search{i}(int[] xs, int want) {{
    int lo = 0;
    int hi = xs.size() - 1;
    while (lo <= hi) {{
        int mid = (lo + hi) >>> 1;
        if (xs[mid] == want) return mid;
        if (xs[mid] < want) lo = mid + 1; else hi = mid - 1;
    }}
    return -1;
}}
int checked{i}(int a, int b) {{
    try {{
        if (b < 0) throw new Error{i}("negative divisor " + b);
        return a / b;
    }} catch (ArithmeticException e) {{
        return 0;
    }} catch (Error{i} e) {{
        return -1;
    }}
}}
int total{i}(Array<int> xs) {{
    int sum = 0;
    for (int x : xs) sum += x;
    var extra = xs.size() > 2 ? xs[2] : 0;
    return sum + extra;
}}
String label{i}(boolean b) {{ return b ? "yes" : "no"; }}
Func<int(int)> fn{i} = mix{i};
Box{i} box{i} = new Box{i}({i % 7 + 1}, 2, 3);
int value{i} = fn{i}({i % 13}) + box{i}.volume() + search{i}([1, 3, 5, 7], {i % 8});
"""


def generate(lines):
    """A script of about `lines` lines, built from whole units, ending in a
    few top-level statements."""
    parts = []
    count = 0
    i = 0
    while count < lines - 3:
        text = unit(i)
        parts.append(text)
        count += text.count("\n")
        i += 1
    parts.append(f"print(value0 + value{i - 1});\n")
    parts.append(f"print(box0.describe() + \" \" + label{i - 1}(true));\n")
    return "".join(parts)


def test_compile_10k_lines(benchmark, ktc, tmp_path):
    TABLE.set(LABEL, status="failed")
    src = tmp_path / "big.k"
    text = generate(LINES)
    src.write_text(text)
    image = tmp_path / "big.kbc"
    cmd = [*ktc, "compile", str(src), "-o", str(image)]

    def run():
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(
                f"`{' '.join(cmd)}` exited {proc.returncode}:\n"
                + "\n".join(proc.stderr.strip().splitlines()[:40]))

    benchmark.extra_info["lines"] = text.count("\n")
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    assert image.exists() and image.stat().st_size > 0, "no image written"
    median, fastest = median_of(benchmark)
    met = median is not None and median < GOAL_SECONDS
    TABLE.set(LABEL, median=median, min=fastest,
              status=f"ok, goal {'met' if met else 'MISSED'}",
              version=f"{text.count(chr(10)):,} lines, "
                      f"{image.stat().st_size:,} bytes of image")
    print(f"ktc compile of {text.count(chr(10)):,} lines: median "
          f"{median if median is None else round(median, 3)} s "
          f"(goal < {GOAL_SECONDS:g} s)")
