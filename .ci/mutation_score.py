"""Kill rate per mutated module after ``mutmut run`` (the last step of ``make mutants``).

Reads ``mutmut results --all true`` and prints, per module: killed (including timeouts),
survived, not yet checked, and killed / (killed + survived). Survivors are listed so they can
be judged (equivalent mutant or missing test) with ``mutmut show NAME``.
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
    for line in out.splitlines():
        m = re.match(r"\s*(\S+?)\.x[_ǁ].*?: (.+)$", line)
        if not m:
            continue
        module, status = m.group(1), m.group(2).strip()
        key = "killed" if status in KILLED else status
        counts[module][key] += 1
        if status == "survived":
            survivors.append(line.strip().split(":")[0])
    print(f"{'module':36} {'killed':>7} {'survived':>8} {'unchecked':>9} {'kill rate':>9}")
    for module in sorted(counts):
        c = counts[module]
        tested = c["killed"] + c["survived"]
        rate = f"{100 * c['killed'] / tested:.1f}%" if tested else "-"
        print(f"{module:36} {c['killed']:7} {c['survived']:8} {c['not checked']:9} {rate:>9}")
    if survivors:
        print("\nsurvivors (inspect with `mutmut show NAME`):\n  " + "\n  ".join(survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
