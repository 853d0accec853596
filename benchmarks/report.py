"""Writes a benchmark's table into its section of BENCHMARKS.md.

Every benchmark script takes ``--write FILE``: once it has its table, the
text between ``<!-- bench:NAME:begin -->`` and ``<!-- bench:NAME:end -->``
in FILE is replaced by a header line (the exact command, the interpreter,
the date, the cores, the load average and the git commit) and the table.
NAME is the script and the interpreter it ran on (``run:3.11``,
``dask_graphs:3.13t``), so each run owns one section and the figures in
the file are always the ones a command printed, never pasted by hand.

The markers are checked when the run starts, so a missing or repeated pair
fails before a long benchmark, not after it. The file is replaced
atomically (a temporary file in the same directory, then a rename) under a
lock on that directory, so two benchmarks finishing together each keep
their section, and an interrupted write leaves the old file whole.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ReportError(Exception):
    """A section cannot be written: the markers are missing, repeated or out of order."""


def begin_marker(name: str) -> str:
    return "<!-- bench:%s:begin -->" % name


def end_marker(name: str) -> str:
    return "<!-- bench:%s:end -->" % name


def interpreter_tag() -> str:
    """``3.11``, or ``3.13t`` for a free-threaded build: the section suffix."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return "%d.%d%s" % (sys.version_info[0], sys.version_info[1], "t" if free else "")


def interpreter() -> str:
    """The interpreter as the header names it, e.g. ``CPython 3.11.7 (GIL)``."""
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        kind = "GIL"
    elif getattr(sys, "_is_gil_enabled", lambda: False)():
        kind = "free-threaded build, GIL enabled at run time"
    else:
        kind = "free-threaded"
    name = sys.implementation.name
    impl = {"cpython": "CPython", "pypy": "PyPy"}.get(name, name)
    return "%s %s (%s)" % (impl, sys.version.split()[0], kind)


def section_name(script: str) -> str:
    """``run:3.11`` for ``benchmarks/run.py`` on CPython 3.11."""
    return "%s:%s" % (Path(script).stem, interpreter_tag())


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _locate(text: str, name: str, path: str) -> tuple[int, int]:
    """Where the section's content starts and ends (just after the begin
    marker's line, at the start of the end marker)."""
    spans = {}
    for marker in (begin_marker(name), end_marker(name)):
        found = [m.start() for m in re.finditer(re.escape(marker), text)]
        if not found:
            raise ReportError(
                "%s has no %s marker: add the lines %s and %s where the section goes"
                % (path, marker, begin_marker(name), end_marker(name))
            )
        if len(found) > 1:
            raise ReportError(
                "%s has %d %s markers at lines %s: each section's markers appear once"
                % (path, len(found), marker, ", ".join(str(_line_of(text, i)) for i in found))
            )
        spans[marker] = found[0]
    begin, end = spans[begin_marker(name)], spans[end_marker(name)]
    if end < begin:
        raise ReportError("%s has %s before %s" % (path, end_marker(name), begin_marker(name)))
    start = begin + len(begin_marker(name))
    # The content starts on the line after the begin marker.
    newline = text.find("\n", start, end)
    start = newline + 1 if newline != -1 else start
    return start, end


def check_section(text: str, name: str, path: str = "the file") -> None:
    """Raises ReportError unless ``text`` has exactly one pair of NAME's markers, in order."""
    _locate(text, name, path)


def replace_section(text: str, name: str, content: str, path: str = "the file") -> str:
    """``text`` with NAME's section holding ``content``; every other character unchanged."""
    start, end = _locate(text, name, path)
    if start > 0 and text[start - 1] != "\n":
        content = "\n" + content
    if not content.endswith("\n"):
        content += "\n"
    return text[:start] + content + text[end:]


def _read(path: Path, name: str) -> str:
    if not path.is_file():
        raise ReportError("%s: no such file to write the section %s into" % (path, name))
    return path.read_text()


def write_atomically(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text`` in one rename, keeping its permissions."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_section(path: str | os.PathLike[str], name: str, content: str) -> None:
    """Puts ``content`` between NAME's markers in the file at ``path``.

    The directory is locked for the read-modify-rename, so concurrent writers
    of different sections of one file do not lose each other's work."""
    path = Path(path)
    _read(path, name)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        text = path.read_text()
        write_atomically(path, replace_section(text, name, content, str(path)))
    finally:
        os.close(dir_fd)


def command_line(argv: list[str], executable: str, cwd: str, root: Path = ROOT) -> str:
    """The command as typed from the repository root: the interpreter and
    paths inside the repository relative, a ``cd`` first when it ran in a
    subdirectory."""
    cwd_path = Path(cwd).resolve()
    exe = Path(executable)
    shown = executable
    if exe.is_absolute():
        try:
            exe.relative_to(root)
            shown = os.path.relpath(exe, cwd_path)
        except ValueError:
            pass
    cmd = shlex.join([shown, *argv])
    try:
        rel = cwd_path.relative_to(root)
    except ValueError:
        return "(cd %s && %s)" % (shlex.quote(str(cwd_path)), cmd)
    if str(rel) != ".":
        return "(cd %s && %s)" % (shlex.quote(str(rel)), cmd)
    return cmd


def git_commit(root: Path = ROOT, written: Path | None = None) -> str:
    """The short commit hash, marked when files other than ``written`` differ from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=10", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    diff = ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "."]
    if written is not None:
        try:
            diff.append(":(exclude)%s" % Path(written).resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    dirty = subprocess.run(diff, capture_output=True).returncode != 0
    return "`%s`%s" % (head, " with uncommitted changes" if dirty else "")


def cores() -> str:
    total = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    return "%d cores" % total if usable == total else "%d of %d cores" % (usable, total)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return "%d min %02d s" % divmod(seconds, 60) if seconds >= 60 else "%d s" % seconds


class Report:
    """One benchmark run's section: made when the run starts (it checks the
    markers then and notes the start), written when the table is ready."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        name: str,
        *,
        argv: list[str] | None = None,
        executable: str | None = None,
        interpreter_name: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.name = name
        self.command = command_line(
            sys.argv if argv is None else argv,
            sys.executable if executable is None else executable,
            os.getcwd(),
        )
        self.interpreter = interpreter_name or interpreter()
        self.started = time.time()
        self.load_at_start = os.getloadavg()[0]
        self.commit = git_commit(written=self.path)
        if self.path is not None:
            check_section(_read(self.path, name), name, str(self.path))

    def header(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        when = datetime.datetime.fromtimestamp(self.started, datetime.UTC)
        return (
            "Written by `%s` on %s, %s (took %s); %s, load average %.2f at the start "
            "and %.2f at the end; commit %s."
            % (
                self.command,
                self.interpreter,
                when.strftime("%Y-%m-%d %H:%M UTC"),
                _duration(now - self.started),
                cores(),
                self.load_at_start,
                os.getloadavg()[0],
                self.commit,
            )
        )

    def write(self, table: str) -> None:
        """Writes the header and ``table`` into the section (if ``--write`` was given)."""
        if self.path is None:
            return
        write_section(self.path, self.name, self.header() + "\n\n" + table.rstrip("\n") + "\n")
        print("wrote section %s of %s" % (self.name, self.path), file=sys.stderr)


def add_write_option(parser) -> None:
    parser.add_argument(
        "--write",
        metavar="FILE",
        help="replace this run's section (%s) of FILE, e.g. BENCHMARKS.md, with the table"
        % begin_marker("SCRIPT:PYTHON"),
    )


def markdown_table(header: list[str], align: str, rows: list[list[str]]) -> str:
    """A markdown table; ``align`` has one character per column, ``l`` or ``r``."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |")
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)
