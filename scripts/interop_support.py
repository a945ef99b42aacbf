"""What the interoperability scripts share: finding the `coffer` binary and the --quick flag."""
import os
import sys


def coffer_and_quick():
    """The coffer binary (the first argument, else .build/release/coffer, then .build/debug/coffer)
    and whether --quick was given; exits 2 when no executable binary is found."""
    args = [a for a in sys.argv[1:] if a != "--quick"]
    quick = "--quick" in sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = args[:1] or [os.path.join(here, "..", ".build", b, "coffer") for b in ("release", "debug")]
    coffer = next((os.path.abspath(c) for c in candidates if os.path.isfile(c)), None)
    if coffer is None or not os.access(coffer, os.X_OK):
        print(f"coffer binary not found or not executable: {' or '.join(candidates)}", file=sys.stderr)
        sys.exit(2)
    return coffer, quick


class Tally:
    """Counts the checks of a run, printing one line per check ("ok   NAME" or "FAIL NAME: WHY")."""

    def __init__(self):
        self.passed = self.failed = 0

    def report(self, name, error):
        if error:
            self.failed += 1
            print(f"FAIL {name}: {error}", flush=True)
        else:
            self.passed += 1
            print(f"ok   {name}", flush=True)

    def case(self, name, fn):
        """Runs `fn`, which returns None when the check holds or a reason when it does not."""
        try:
            self.report(name, fn())
        except Exception as e:  # a crash in one case must not hide the others
            self.report(name, f"{type(e).__name__}: {e}")

    def finish(self):
        """Prints "N passed, M failed" and exits, 1 if any check failed."""
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
