"""Kill rate per mutated module after ``mutmut run`` (the last step of ``make mutants``).

Reads ``mutmut results --all true`` and prints, per module: killed (including timeouts),
survived, not yet checked, "no tests" (mutants in functions that none of the selected test
files calls: they are neither killed nor survived, so they are counted apart and their
functions listed, instead of vanishing from the rate), and killed / (killed + survived).
Survivors are listed so they can be judged (equivalent mutant or missing test) with
``mutmut show NAME``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

KILLED = {"killed", "timeout", "caught by type check"}


def main() -> int:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                         capture_output=True, text=True, check=True).stdout
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    untested: Counter = Counter()
    for line in out.splitlines():
        m = re.match(r"\s*(\S+?)\.x[_ǁ].*?: (.+)$", line)
        if not m:
            continue
        module, status = m.group(1), m.group(2).strip()
        key = "killed" if status in KILLED else status
        counts[module][key] += 1
        if status == "survived":
            survivors.append(line.strip().split(":")[0])
        elif status == "no tests":
            untested[line.strip().split(":")[0].split("__mutmut_")[0]] += 1
    print(f"{'module':36} {'killed':>7} {'survived':>8} {'unchecked':>9} {'no tests':>8} {'kill rate':>9}")
    for module in sorted(counts):
        c = counts[module]
        tested = c["killed"] + c["survived"]
        rate = f"{100 * c['killed'] / tested:.1f}%" if tested else "-"
        print(f"{module:36} {c['killed']:7} {c['survived']:8} {c['not checked']:9} {c['no tests']:8} {rate:>9}")
    if untested:
        print("\nfunctions no selected test calls (mutants):\n  " +
              "\n  ".join(f"{name} ({n})" for name, n in sorted(untested.items())))
    if survivors:
        print("\nsurvivors (inspect with `mutmut show NAME`):\n  " + "\n  ".join(survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
