"""Run mutmut's mutants against chosen test files, one pytest session per mutant in one process.

mutmut runs each mutant against every test that reached its function in its stats pass. For the functions
that every scoring test reaches (the predictions file's reading path: about 100 tests, 12 s per surviving
mutant on a quiet 2-core machine) that costs hours. This driver switches each mutant on through mutmut's own
trampoline (``MUTANT_UNDER_TEST``) in the ``mutants/`` copy that ``mutmut run`` made, and runs only the test
files given, with ``-x``. A mutant these files kill is killed by mutmut's selection too (which holds them);
one they leave may still be killed by another file, so its survivors are an upper bound: re-run them with
``mutmut run NAME ...`` (docs/mutation.md).

    cd <repository> && mutmut results --all true | awk '$2 == "not" {print $1}' | tr -d : > names.txt
    OMP_NUM_THREADS=1 python tools/mutants_against.py --names names.txt --out results.jsonl \\
        tests/test_predictions_io.py tests/test_predictions_validation.py

Each line of ``--out`` is ``{"mutant", "result" (killed | survived | timeout), "seconds"}``; a mutant already
in ``--out`` is skipped, so the run resumes after an interruption.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest


class _MutantTimeout(Exception):
    """Raised by the alarm inside a test: the mutant loops (mutmut counts a timeout as killed)."""


_alarm_rang = False


def _on_alarm(signum, frame):
    global _alarm_rang
    _alarm_rang = True
    raise _MutantTimeout("the mutant ran past its time limit")


def run_mutant(name: str, test_files: list[str], timeout_s: int, markers: str = "not slow") -> str:
    """``killed``, ``survived`` or ``timeout`` for one mutant against ``test_files``."""
    global _alarm_rang
    _alarm_rang = False
    os.environ["MUTANT_UNDER_TEST"] = name
    signal.alarm(timeout_s)
    try:
        exit_code = pytest.main([*test_files, "-x", "-q", "-p", "no:cacheprovider", "-m", markers,
                                 "--no-header", "--tb=no", "-o", "console_output_style=classic"])
    except _MutantTimeout:
        return "timeout"
    finally:
        signal.alarm(0)
        os.environ["MUTANT_UNDER_TEST"] = ""
    if _alarm_rang:  # the alarm fired inside a test, which pytest then counted as failed
        return "timeout"
    if exit_code == pytest.ExitCode.OK:
        return "survived"
    if exit_code == pytest.ExitCode.TESTS_FAILED:
        return "killed"
    raise SystemExit(f"{name}: pytest ended with {exit_code!r}, not a test result (a collection or usage error)")


def _done(out: Path) -> set[str]:
    if not out.exists():
        return set()
    return {json.loads(line)["mutant"] for line in out.read_text().splitlines() if line.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="+", help="test files or node ids (relative to the repository)")
    parser.add_argument("--names", type=Path, required=True, help="a file of mutant names, one per line")
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines results, appended to")
    parser.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's copy (default: mutants)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per mutant (default: 120)")
    parser.add_argument("--markers", default="not slow",
                        help="pytest -m expression (default: 'not slow'; '' runs the slow tests too)")
    args = parser.parse_args(argv)

    names = [line.strip() for line in args.names.read_text().splitlines() if line.strip()]
    out = args.out.resolve()
    done = _done(out)
    mutants = args.mutants.resolve()
    if not (mutants / "mutmut-stats.json").is_file():
        parser.error(f"{mutants} is not a mutmut copy: run `mutmut run` once first")
    os.chdir(mutants)
    sys.path.insert(0, str(mutants))
    signal.signal(signal.SIGALRM, _on_alarm)
    clean = run_mutant("", args.tests, args.timeout, args.markers)
    if clean != "survived":
        raise SystemExit(f"the tests fail without a mutant ({clean}): fix them first")
    todo = [name for name in names if name not in done]
    print(f"{len(todo)} mutants to run ({len(names) - len(todo)} already in {out})", file=sys.stderr)
    with out.open("a") as handle:
        for index, name in enumerate(todo, 1):
            began = time.monotonic()
            result = run_mutant(name, args.tests, args.timeout, args.markers)
            record = {"mutant": name, "result": result, "seconds": round(time.monotonic() - began, 2)}
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            print(f"[{index}/{len(todo)}] {name}: {result}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
