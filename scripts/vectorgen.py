"""What the known-answer generators (scripts/make-*-vectors.py) share: where the test resources
are, and writing each JSON file (indent 1, a final newline) or, with --check, comparing it."""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def resource(target, name):
    """The path of `name` in the Resources folder of the test target `target`."""
    return os.path.normpath(os.path.join(ROOT, "Tests", target, "Resources", name))


def text(content):
    """A vector file's text: `content` as JSON, indented by one space, ending in a newline."""
    return json.dumps(content, indent=1) + "\n"


def write(path, content, note=""):
    """Writes `content` to `path` (its folder made when missing) and says so."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text(content))
    print(f"wrote {path}{note}")


def main(outputs, note=""):
    """Writes each (path, content) of `outputs`; with --check on the command line, compares
    each file with what the generator makes instead, and exits 1 naming every one that differs."""
    if "--check" not in sys.argv[1:]:
        for path, content in outputs:
            write(path, content, note)
        return
    failed = False
    for path, content in outputs:
        with open(path) as f:
            if f.read() != text(content):
                print(f"{path} differs from what the generator makes", file=sys.stderr)
                failed = True
    sys.exit(1 if failed else 0)
