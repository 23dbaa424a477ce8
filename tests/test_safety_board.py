"""Issue 19, the store and the board against a hostile submitter: one test per numbered case (5 to 11),
the entry id pinned, and property tests of the one sanitiser (:mod:`leaderboard.escape`)."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import signal
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.errors import ConfigError, DataError, InputError
from benchmark.protocol import load_protocol
from leaderboard import escape
from leaderboard.build import render_leaderboard
from leaderboard.entry import META_FILE, PER_QUERY_FILE, SCORES_FILE, SubmissionInfo
from leaderboard.paper import write_paper
from leaderboard.store import ENTRY_ID_LENGTH, SubmissionStore, make_entry_id, submit_predictions
from tests.leaderboard_helpers import fake_run, write_simulated
from vcval.main import main

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _submit(store, benchmark, work, name, *, seed, first_rate=0.5, protocol=None):
    path = write_simulated(work / f"p{seed}.jsonl", benchmark.split("test"), benchmark.corpus("test"),
                           first_rate=first_rate, jitter=0.4, seed=seed)
    return submit_predictions(store, path, benchmark, "test", SubmissionInfo(name), protocol).entry


def _edit_json(path, **changes):
    value = json.loads(path.read_text())
    value.update(changes)
    path.write_text(json.dumps(value))


def _site_bytes(folder):
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def _svg_texts(folder):
    return "\n".join(path.read_text() for path in folder.rglob("*.svg"))


# --------------------------------------------------------------------------------------- case 5


def test_case_05_math_in_name_renders_literally(tiny_benchmark, tmp_path):
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, r"BM25 $\frac$ v2", seed=1)
    _submit(store, tiny_benchmark, tmp_path, "pair $x^2$ dollars", seed=2)
    rendered = render_leaderboard(store, tmp_path / "site", strict=True)  # mathtext raised here before
    svg = _svg_texts(tmp_path / "site" / "plots")
    assert r"BM25 $\frac$ v2" in svg and "pair $x^2$ dollars" in svg  # drawn as written, not as math
    assert any(path.suffix == ".png" for path in rendered.files)
    outputs = write_paper([tmp_path / "store"], tmp_path / "paper")
    assert r"BM25 $\frac$ v2" in _svg_texts(tmp_path / "paper" / "plots") and outputs.main


# --------------------------------------------------------------------------------------- case 6


@pytest.mark.parametrize("hashed", [True, False], ids=["entry", "entry-without-hashes"])
@pytest.mark.parametrize("forged", [99.0, float("nan"), -1.0, 1e300, "interval"])
def test_case_06_edited_scores_are_not_published(tiny_benchmark, tmp_path, capsys, forged, hashed):
    """Caught by the sha256 of scores.json, and, in an entry written before it, by the per-question means
    (a metric) or the range check (an interval)."""
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, "strong", seed=1, first_rate=0.9)
    weak = _submit(store, tiny_benchmark, tmp_path, "weak", seed=2, first_rate=0.0)
    scores = json.loads((weak.path / SCORES_FILE).read_text())
    if forged == "interval":
        scores["ci"]["R1_IoU0.5"] = [-5.0, 500.0]
    else:
        scores["metrics"]["R1_IoU0.5"] = forged
    (weak.path / SCORES_FILE).write_text(json.dumps(scores))
    if not hashed:
        meta = json.loads((weak.path / META_FILE).read_text())
        del meta["scores_sha256"], meta["per_query_sha256"]
        (weak.path / META_FILE).write_text(json.dumps(meta))
    (table,) = render_leaderboard(store, tmp_path / "site", plots=False).tables
    assert [row.entry.meta.name for row in table.rows] == ["strong"]
    assert capsys.readouterr().err.count(f"WARNING: skipping {weak.path}") == 1
    with pytest.raises(DataError, match="scores"):
        render_leaderboard(store, tmp_path / "site", plots=False, strict=True)


def test_case_06_scores_hash_catches_a_plausible_edit(tiny_benchmark, tmp_path):
    """A narrowed interval is in range and leaves the means alone: only the recorded sha256 sees it (or,
    in an entry without it, re-scoring)."""
    store = SubmissionStore(tmp_path / "store")
    entry = _submit(store, tiny_benchmark, tmp_path, "narrowed", seed=1)
    scores = json.loads((entry.path / SCORES_FILE).read_text())
    value = scores["metrics"]["R1_IoU0.5"]
    scores["ci"]["R1_IoU0.5"] = [value, value]
    (entry.path / SCORES_FILE).write_text(json.dumps(scores))
    with pytest.raises(DataError, match="scores_sha256 differs"):
        store.entries(strict=True)
    meta = json.loads((entry.path / META_FILE).read_text())
    del meta["scores_sha256"], meta["per_query_sha256"]
    (entry.path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(DataError, match="the interval of R1_IoU0.5"):
        store.entries(strict=True, data=tiny_benchmark)
    # per-question values moved between questions: the same means, other paired tests
    other = SubmissionStore(tmp_path / "other")
    moved = _submit(other, tiny_benchmark, tmp_path, "moved", seed=2).path / PER_QUERY_FILE
    rows = [json.loads(line) for line in gzip.decompress(moved.read_bytes()).decode().splitlines()]
    rows[0]["qid"], rows[1]["qid"] = rows[1]["qid"], rows[0]["qid"]
    moved.write_bytes(gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode()))
    with pytest.raises(DataError, match="per_query_sha256 differs"):
        other.entries(strict=True)


def test_case_06_consistently_forged_entry_is_caught_by_rescoring(tiny_benchmark, tmp_path):
    """An entry whose scores, per-question values and hashes were all rewritten to another entry's passes
    every hash; re-scoring its predictions (``--strict --data-dir``) refuses it."""
    store = SubmissionStore(tmp_path / "store")
    strong = _submit(store, tiny_benchmark, tmp_path, "strong", seed=1, first_rate=0.9)
    weak = _submit(store, tiny_benchmark, tmp_path, "weak", seed=2, first_rate=0.0)
    scores = json.loads((strong.path / SCORES_FILE).read_text())
    scores["meta"]["content_sha256"] = weak.meta.predictions_sha256
    (weak.path / SCORES_FILE).write_text(json.dumps(scores))
    (weak.path / PER_QUERY_FILE).write_bytes((strong.path / PER_QUERY_FILE).read_bytes())
    _edit_json(weak.path / META_FILE, scores_sha256=hashlib.sha256((weak.path / SCORES_FILE).read_bytes()).hexdigest(),
               per_query_sha256=strong.meta.per_query_sha256)
    assert len(store.entries(strict=True)) == 2  # the forgery is consistent with itself
    with pytest.raises(DataError, match="re-scored from its predictions"):
        store.entries(strict=True, data=tiny_benchmark)
    code = main(["leaderboard", "--store", str(store.root), "--out", str(tmp_path / "site"), "--no-plots",
                 "--strict", "--data-dir", str(tiny_benchmark.data_dir)])
    assert code == 2 and not (tmp_path / "site").exists()


def test_case_06_entry_without_hashes_is_unverified(tiny_benchmark, tmp_path, capsys):
    """An entry written before the hashes: shown with a warning; --strict takes it only once re-scored."""
    store = SubmissionStore(tmp_path / "store")
    entry = _submit(store, tiny_benchmark, tmp_path, "old", seed=1)
    meta = json.loads((entry.path / META_FILE).read_text())
    del meta["scores_sha256"], meta["per_query_sha256"]
    (entry.path / META_FILE).write_text(json.dumps(meta))
    assert len(store.entries(strict=False)) == 1
    assert "written before entries recorded the sha256" in capsys.readouterr().err
    with pytest.raises(DataError, match="give --data-dir to re-score it"):
        store.entries(strict=True)
    assert len(store.entries(strict=True, data=tiny_benchmark)) == 1


# --------------------------------------------------------------------------------------- case 7


def test_case_07_paper_averages_only_seeds(tiny_benchmark, tmp_path):
    runs = tmp_path / "runs"
    for folder, k1, seed, jitter in (("bm25-a-1", None, 1, 0.3), ("bm25-a-2", None, 2, 0.5),
                                     ("bm25-b-1", 0.5, 1, 1.5)):
        fake_run(runs / folder, tiny_benchmark, system="bm25", seed=seed, first_rate=0.6, jitter=jitter)
        config = {"window": {"seed": seed}} | ({"bm25": {"k1": k1}} if k1 is not None else {})
        _edit_json(runs / folder / "manifest.json", config=config)
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, "bm25", seed=9, first_rate=0.0)  # a submitter's "bm25"
    outputs = write_paper([runs, runs / "bm25-a-1", store.root], tmp_path / "paper", plots=False)
    (table,) = outputs.main
    names = sorted(row.entry.meta.name for row in table.rows)
    entry_id = store.entries()[0].meta.entry_id
    assert names == sorted(["bm25 (bm25.k1=default)", "bm25 (bm25.k1=0.5)", f"bm25 [entry {entry_id[:8]}]"])
    rows = {row.entry.meta.name: row for row in table.rows}
    assert rows["bm25 (bm25.k1=default)"].entry.meta.notes == "mean of 2 seeds"  # found twice, counted once
    single = json.loads((runs / "bm25-b-1" / "scores.json").read_text())["metrics"]
    assert rows["bm25 (bm25.k1=0.5)"].entry.metrics == pytest.approx(single)
    assert not rows["bm25 (bm25.k1=0.5)"].entry.spread


# --------------------------------------------------------------------------------------- case 8


def test_case_08_protocol_name_cannot_inject_a_formula(tiny_benchmark, tmp_path):
    protocol = load_protocol().replace(name='=HYPERLINK("http://evil.example","x")')
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, "@SUM(A1)", seed=1, protocol=protocol)
    render_leaderboard(store, tmp_path / "site", plots=False)
    rows = list(csv.reader(io.StringIO((tmp_path / "site" / "leaderboard.csv").read_text())))
    assert len(rows) == 2
    for cell in rows[0] + rows[1]:
        assert not cell.startswith(FORMULA_START), cell
    assert "'=HYPERLINK(" in rows[1][rows[0].index("protocol")] and rows[1][rows[0].index("name")] == "'@SUM(A1)"


# --------------------------------------------------------------------------------------- case 9


def test_case_09_missing_store_and_interruptions_keep_the_site(tiny_benchmark, tmp_path, capsys, monkeypatch):
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, "only", seed=1)
    site = tmp_path / "site"
    render_leaderboard(store, site)
    before = _site_bytes(site)
    (tmp_path / "a-file").write_text("x")
    for mistyped in (tmp_path / "stroe", tmp_path / "a-file"):
        assert main(["leaderboard", "--store", str(mistyped), "--out", str(site)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert _site_bytes(site) == before
    # interrupted while rendering (plots come last): the old site stays whole, nothing staged is left
    import leaderboard.build as build

    def interrupted(tables, folder):
        folder.mkdir(parents=True)
        (folder / "half.png").write_bytes(b"x")
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "plot_tables", interrupted)
    _submit(store, tiny_benchmark, tmp_path, "second", seed=2)
    assert main(["leaderboard", "--store", str(store.root), "--out", str(site)]) == 130
    assert _site_bytes(site) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "p1.jsonl", "p2.jsonl", "site", "store"]
    monkeypatch.undo()
    # interrupted during the swap itself: the signal waits, the new site is in place whole
    import benchmark.ownership as site_module

    real_rename = site_module.os.rename

    def rename_then_signal(source, target):
        signal.raise_signal(signal.SIGINT)
        real_rename(source, target)

    monkeypatch.setattr(site_module.os, "rename", rename_then_signal)
    # Python keeps SIGINT ignored when it starts with it ignored (pytest run as a background job of a
    # non-interactive shell): this part needs the usual handler that raises KeyboardInterrupt.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            render_leaderboard(store, site, plots=False)
    finally:
        signal.signal(signal.SIGINT, inherited)
    monkeypatch.undo()
    assert "second" in (site / "leaderboard.md").read_text() and not (site / "plots").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "p1.jsonl", "p2.jsonl", "site", "store"]
    # a folder the site did not write is never replaced
    (site / "notebook.ipynb").write_text("{}")
    with pytest.raises(ConfigError, match="did not write"):
        render_leaderboard(store, site, plots=False)
    assert (site / "notebook.ipynb").exists()


# --------------------------------------------------------------------------------------- case 10


def _truncate_gzip(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _rewrite_per_query(path, edit):
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(edit(lines)) + "\n").encode()))


DAMAGES = {
    "truncated per_query": lambda entry: _truncate_gzip(entry / PER_QUERY_FILE),
    "missing per_query": lambda entry: (entry / PER_QUERY_FILE).unlink(),
    "bad line in per_query": lambda entry: _rewrite_per_query(entry / PER_QUERY_FILE, lambda ls: [*ls[:-1], "{oops"]),
    "line without qid": lambda entry: _rewrite_per_query(
        entry / PER_QUERY_FILE, lambda ls: [json.dumps({k: v for k, v in json.loads(ls[0]).items() if k != "qid"}),
                                            *ls[1:]]),
    "strings in ci": lambda entry: _edit_json(entry / SCORES_FILE, ci={"R1_IoU0.5": ["low", "high"]}),
    "binary meta.json": lambda entry: (entry / META_FILE).write_bytes(b"\xff\xfe\x00\x89PNG\x00" * 50),
    "edited scores": lambda entry: _edit_json(entry / SCORES_FILE, n_questions=3),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_case_10_damaged_entry_is_skipped_with_one_line(tiny_benchmark, tmp_path, capsys, damage):
    store = SubmissionStore(tmp_path / "store")
    _submit(store, tiny_benchmark, tmp_path, "fine", seed=1)
    damaged = _submit(store, tiny_benchmark, tmp_path, "damaged", seed=2).path
    DAMAGES[damage](damaged)
    argv = ["leaderboard", "--store", str(store.root), "--out", str(tmp_path / "site"), "--no-plots"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"WARNING: skipping {damaged}")
    assert captured.out.startswith("1 entries in 1 comparable group(s)")
    assert main([*argv, "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vcval leaderboard: error:") and str(damaged) in err


# --------------------------------------------------------------------------------------- case 11


def test_case_11_names_cannot_attack_the_renderer(tiny_benchmark, tmp_path, capsys):
    store = SubmissionStore(tmp_path / "store")
    long_one = _submit(store, tiny_benchmark, tmp_path, "long", seed=1)
    escaping = _submit(store, tiny_benchmark, tmp_path, "esc", seed=2)
    bracket = _submit(store, tiny_benchmark, tmp_path, "bracket", seed=3)
    # entries stored by an earlier version that accepted anything
    _edit_json(long_one.path / META_FILE, name="W" * 20_000, protocol="P" * 300)
    _edit_json(escaping.path / META_FILE, name="evil\x1b[31mred\x07\u202eosla", authors="\x1b]0;title\x07")
    _edit_json(bracket.path / META_FILE, name="[2cm] *starred")
    code = main(["leaderboard", "--store", str(store.root), "--out", str(tmp_path / "site")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    site = tmp_path / "site"
    for path in [*site.rglob("*"), tmp_path / "console"]:
        if path.suffix == ".png":
            continue  # pixels (their size is checked below)
        text = captured.out + captured.err if path.name == "console" else (
            path.read_text() if path.is_file() else path.name)
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", text), path
        assert "W" * (escape.NAME_MAX_CHARS + 1) not in text and "P" * (escape.PROTOCOL_NAME_MAX_CHARS + 1) not in text
        assert len(path.name) <= 64
    from PIL import Image

    for png in site.rglob("*.png"):
        with Image.open(png) as image:
            assert image.width < 3000 and image.height < 3000, png
    tex = (site / "leaderboard.tex").read_text()
    assert r"{}[2cm] *starred &" in tex and not re.search(r"(\\\\|\\midrule)\s*\n\s*[\[*]", tex)
    assert r"evil\textbackslash{}x1b[31mred" in tex  # the escape is shown, not sent
    # and none of it is accepted at submit any more: one line, exit 2, nothing stored
    for field, value in (("--name", "N" * 20_000), ("--name", "a\x1bb"), ("--authors", "x\x07")):
        predictions = write_simulated(tmp_path / "new.jsonl", tiny_benchmark.split("test"),
                                      tiny_benchmark.corpus("test"), first_rate=0.3, jitter=0.2, seed=11)
        argv = ["submit", str(predictions), "--data-dir", str(tiny_benchmark.data_dir), "--split", "test",
                "--store", str(store.root), "--name", "ok", field, value]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "\x1b" not in err and "\x07" not in err and len(err) < 400
    protocol = load_protocol().replace(name="P" * 300)
    with pytest.raises(Exception, match="protocol's name is 300 characters long"):
        _submit(store, tiny_benchmark, tmp_path, "x", seed=12, protocol=protocol)
    assert len(list(store.root.iterdir())) == 3


# ------------------------------------------------------------------------------------ entry ids


def test_entry_id_is_twenty_hex_digits_without_collisions():
    """Content-addressed ids: pinned, full length, and 5000 submissions of different content never share one
    (an id cut to 3 hex digits has 4096 values)."""
    assert make_entry_id("0" * 64, "test", "1" * 64) == "65a1b393f93d752d5f75"
    assert ENTRY_ID_LENGTH == 20
    ids = {make_entry_id(hashlib.sha256(str(i).encode()).hexdigest(), "test", "1" * 64) for i in range(5000)}
    assert len(ids) == 5000 and all(re.fullmatch(r"[0-9a-f]{20}", entry_id) for entry_id in ids)
    assert make_entry_id("0" * 64, "validation", "1" * 64) != make_entry_id("0" * 64, "test", "1" * 64)


def test_store_get_takes_only_entry_ids(tmp_path):
    store = SubmissionStore(tmp_path / "store")
    (tmp_path / "store").mkdir()
    for bad in ("../store", "/etc", "", "a" * 19, "A" * 20, "g" * 20):
        assert store.get(bad) is None


def test_store_add_takes_only_entry_ids(tiny_benchmark, tmp_path):
    """``add`` is the store's lowest write: it refuses an id that is a path (a server passing one on)."""
    store = SubmissionStore(tmp_path / "store")
    entry = _submit(store, tiny_benchmark, tmp_path, "first", seed=1)
    report_path = entry.path / "predictions.jsonl.gz"
    from dataclasses import replace

    for bad in ("../escaped", "0" * 19):
        with pytest.raises(InputError, match="an entry id is 20 hex digits"):
            store.add(bad, replace(entry.meta, entry_id=bad), None, report_path)
    assert not (tmp_path / "escaped").exists() and len(store.entries()) == 1


# ------------------------------------------------------------------------------ the sanitiser


HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=200))
def test_sanitiser_output_is_one_bounded_visible_line(text, limit):
    shown = escape.visible(text, limit)
    assert not HIDDEN.search(shown) and len(shown) <= limit
    assert escape.visible(shown, limit) == shown  # idempotent
    assert all(unicodedata.category(ch) != "Zl" for ch in shown)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_every_format_is_safe_for_any_text(text):
    cell = escape.csv_cell(text)
    assert not cell.startswith(FORMULA_START) and not HIDDEN.search(cell)
    assert "<" not in escape.html_text(text) and ">" not in escape.html_text(text)
    assert '"' not in escape.html_text(text)
    assert "<" not in escape.markdown(text) and "\n" not in escape.markdown(text)
    assert not escape.latex(text).startswith(("[", "*")) and "\n" not in escape.latex(text)
    plot = escape.plot_text(text)
    assert plot.count("$") == plot.count(r"\$") and not plot.startswith("_")
    assert len(plot) <= 2 * escape.PLOT_NAME_MAX_CHARS + 1
    assert re.fullmatch(r"[0-9a-f]{12}", escape.file_key(text))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_submit_check_refuses_what_rendering_would_change(text):
    """What :func:`field_problem` accepts is shown as written (apart from whitespace collapsing)."""
    if escape.field_problem("name", text) is None:
        assert escape.visible(text, escape.NAME_MAX_CHARS) == escape.one_line(text)
