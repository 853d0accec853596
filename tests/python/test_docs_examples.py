"""Every ```python example in docs/*.md and README.md runs, and passes.

Each example is a whole program (its checks are ``assert`` statements) and
runs as a script in a fresh interpreter, in an empty directory, without the ``HPYX_*``
variables of this process: the pool is process-wide, and an example may
size it or shut it down. A wrong example fails here with its page, line
and output.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def _examples():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield pytest.param(page, line, match.group(1), id="%s:%d" % (page.name, line))


EXAMPLES = list(_examples())


def test_the_docs_have_examples():
    pages = {page.name for page, _, _ in (p.values for p in EXAMPLES)}
    assert "README.md" in pages
    assert len(pages) >= 8, pages


@pytest.mark.parametrize(("page", "line", "code"), EXAMPLES)
def test_example_runs(page, line, code, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HPYX_")}
    # A file, not `-c`: `spawn`ed processes re-import the main module.
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, "%s line %d exited %s\n--- stdout\n%s\n--- stderr\n%s" % (
        page.relative_to(ROOT),
        line,
        proc.returncode,
        proc.stdout,
        proc.stderr,
    )
