"""benchmarks/report.py: how a benchmark writes its table into BENCHMARKS.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import report  # noqa: E402

# Each test writes files in its tmp_path, and some patch os.replace.
pytestmark = pytest.mark.thread_unsafe(reason="patches os.replace, shares tmp_path")

DOC = """# Benchmarks

Some prose that stays.

<!-- bench:run:3.11:begin -->
old table
<!-- bench:run:3.11:end -->

Between the sections.

<!-- bench:run:3.13t:begin -->
other old table
<!-- bench:run:3.13t:end -->
Trailing text
"""


def test_replace_section_puts_content_between_the_markers():
    out = report.replace_section(DOC, "run:3.11", "| a |\n| --- |\n| 1 |\n")
    assert (
        "<!-- bench:run:3.11:begin -->\n| a |\n| --- |\n| 1 |\n<!-- bench:run:3.11:end -->" in out
    )
    assert "old table\n<!-- bench:run:3.11:end" not in out


def test_replace_section_leaves_every_other_character_alone():
    out = report.replace_section(DOC, "run:3.11", "new")
    before, _, after = DOC.partition("old table\n")
    assert out == before + "new\n" + after
    assert "other old table" in out
    assert out.endswith("Trailing text\n")


def test_replace_section_twice_gives_the_same_file():
    once = report.replace_section(DOC, "run:3.13t", "x\n")
    assert report.replace_section(once, "run:3.13t", "x\n") == once


def test_missing_markers_are_an_error_naming_the_section_and_the_file():
    with pytest.raises(
        report.ReportError, match=r"BENCHMARKS\.md has no <!-- bench:dask_graphs:3\.11:begin -->"
    ):
        report.replace_section(DOC, "dask_graphs:3.11", "x", "BENCHMARKS.md")
    only_begin = "<!-- bench:a:begin -->\n"
    with pytest.raises(report.ReportError, match="no <!-- bench:a:end --> marker"):
        report.replace_section(only_begin, "a", "x")


def test_duplicate_markers_are_an_error_giving_their_lines():
    doc = DOC + "<!-- bench:run:3.11:begin -->\n"
    with pytest.raises(
        report.ReportError, match=r"has 2 <!-- bench:run:3\.11:begin --> markers at lines 5, 15"
    ):
        report.replace_section(doc, "run:3.11", "x")


def test_end_marker_before_begin_is_an_error():
    doc = "<!-- bench:a:end -->\n<!-- bench:a:begin -->\n"
    with pytest.raises(report.ReportError, match="end --> before <!-- bench:a:begin"):
        report.replace_section(doc, "a", "x")


def test_a_name_that_prefixes_another_does_not_match_it():
    # run:3.1 is not run:3.11's section.
    with pytest.raises(report.ReportError, match=r"no <!-- bench:run:3\.1:begin"):
        report.replace_section(DOC, "run:3.1", "x")


def test_write_section_rewrites_the_file(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)
    report.write_section(path, "run:3.13t", "fresh\n")
    assert path.read_text() == DOC.replace("other old table\n", "fresh\n")


def test_write_section_replaces_the_file_by_rename_keeping_its_mode(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    report.write_section(path, "run:3.11", "fresh\n")
    assert path.stat().st_ino != inode
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BENCHMARKS.md"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        report.write_section(path, "run:3.11", "fresh\n")
    assert path.read_text() == DOC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BENCHMARKS.md"]


def test_write_section_with_bad_markers_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)
    with pytest.raises(report.ReportError):
        report.write_section(path, "memory_floor:3.11", "fresh\n")
    assert path.read_text() == DOC


def test_write_section_to_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(report.ReportError, match="no such file"):
        report.write_section(tmp_path / "nope.md", "run:3.11", "x")


def test_concurrent_writers_of_different_sections_keep_both(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    names = ["s%d" % i for i in range(8)]
    path.write_text("".join(f"{report.begin_marker(n)}\n{report.end_marker(n)}\n" for n in names))
    threads = [
        threading.Thread(target=report.write_section, args=(path, n, "content of %s\n" % n))
        for n in names
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    text = path.read_text()
    for n in names:
        assert f"{report.begin_marker(n)}\ncontent of {n}\n{report.end_marker(n)}" in text


def test_report_checks_the_markers_when_the_run_starts(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)
    with pytest.raises(report.ReportError, match=r"no <!-- bench:first_graph:3\.11:begin"):
        report.Report(path, "first_graph:3.11", argv=["benchmarks/first_graph.py"])


def test_report_without_write_writes_nothing(tmp_path):
    rep = report.Report(None, "run:3.11", argv=["benchmarks/run.py"])
    rep.write("| a |")
    assert list(tmp_path.iterdir()) == []


def test_header_names_command_interpreter_date_cores_load_and_commit(tmp_path, monkeypatch):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(DOC)
    monkeypatch.chdir(ROOT)
    rep = report.Report(
        path,
        "run:3.11",
        argv=["benchmarks/run.py", "--repeat", "1", "--write", str(path)],
        executable=str(ROOT / ".venv" / "bin" / "python"),
        interpreter_name="CPython 3.11.7 (GIL)",
    )
    rep.write("| a |\n| --- |\n| 1 |")
    section = (
        path.read_text()
        .split("<!-- bench:run:3.11:begin -->\n")[1]
        .split("<!-- bench:run:3.11:end")[0]
    )
    header, blank, *table = section.splitlines()
    assert blank == ""
    assert table == ["| a |", "| --- |", "| 1 |"]
    assert "`.venv/bin/python benchmarks/run.py --repeat 1 --write %s`" % path in header
    assert "CPython 3.11.7 (GIL)" in header
    assert report.cores() in header
    assert re.fullmatch(r"\d+ cores|\d+ of \d+ cores", report.cores())
    assert "load average" in header
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert "commit `%s`" % head in header
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", header)
    assert re.search(r"load average \d+\.\d\d at the start and \d+\.\d\d at the end", header)


def test_command_line_from_a_subdirectory_says_where_it_ran():
    cmd = report.command_line(
        ["memory_floor.py"], str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "benchmarks")
    )
    assert cmd == "(cd benchmarks && ../.venv/bin/python memory_floor.py)"


def test_command_line_quotes_arguments_and_keeps_outside_interpreters_absolute():
    cmd = report.command_line(["benchmarks/run.py", "--only", "a b"], "/usr/bin/python3", str(ROOT))
    assert cmd == "/usr/bin/python3 benchmarks/run.py --only 'a b'"


def test_section_name_is_script_and_interpreter():
    tag = "%d.%d" % sys.version_info[:2]
    assert report.section_name("benchmarks/dask_graphs.py") in (
        f"dask_graphs:{tag}",
        f"dask_graphs:{tag}t",
    )
    assert report.interpreter_tag().startswith(tag)


def test_markdown_table_aligns_columns():
    table = report.markdown_table(["peer", "time"], "lr", [["hpyx", "1 s"]])
    assert table == "| peer | time |\n| --- | ---: |\n| hpyx | 1 s |"


def test_every_script_make_bench_report_runs_has_its_sections_in_benchmarks_md():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("bench-report-python:")[1].split("\n\n")[0]
    scripts = sorted(set(re.findall(r"benchmarks/(\w+)\.py", recipe)))
    assert "run" in scripts and "dask_graphs" in scripts
    text = (ROOT / "BENCHMARKS.md").read_text()
    for python in ("3.11", "3.13t"):
        for script in scripts:
            report.check_section(text, f"{script}:{python}", "BENCHMARKS.md")
    assert "benchmarks/rust_benches.py" in makefile
    report.check_section(text, "rust", "BENCHMARKS.md")
