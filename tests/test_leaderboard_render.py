"""Leaderboard tables and their renderings: grouping, ranking, ties with the best, and Markdown, CSV,
LaTeX and HTML that show the stored numbers with every submitter string escaped."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from urllib.parse import urlsplit

import numpy as np
import pytest

from benchmark.errors import ConfigError
from leaderboard.build import render_leaderboard
from leaderboard.columns import CORPUS_COLUMNS
from leaderboard.entry import read_entry
from leaderboard.escape import latex, markdown, markdown_url, safe_url
from leaderboard.plots import ERROR_CATEGORIES, error_breakdown, r1_threshold_curve
from leaderboard.render_html import render_html
from leaderboard.render_text import render_csv, render_latex, render_markdown
from leaderboard.store import SubmissionStore
from leaderboard.table import build_tables
from tests.leaderboard_helpers import DEMO_SYSTEMS, HOSTILE_LINKS, HOSTILE_NAME, populate_store


@pytest.fixture(scope="module")
def store(tiny_benchmark, tmp_path_factory) -> SubmissionStore:
    work = tmp_path_factory.mktemp("leaderboard")
    populate_store(work / "store", tiny_benchmark, work)
    return SubmissionStore(work / "store")


@pytest.fixture(scope="module")
def rendered(store, tmp_path_factory):
    return render_leaderboard(store, tmp_path_factory.mktemp("out"))


def _scores(entry) -> dict:
    return json.loads((entry.path / "scores.json").read_text())


def test_table_ranks_by_headline_and_marks_ties(store):
    (table,) = build_tables(store.entries())
    values = [row.entry.metrics["R1_IoU0.5"] for row in table.rows]
    assert values == sorted(values, reverse=True)
    assert table.rows[0].entry.meta.name == HOSTILE_NAME  # the strong simulated system
    assert [row.rank for row in table.rows] == [1, 2, 3]
    for column in CORPUS_COLUMNS:
        cells = [row.cells[column.key] for row in table.rows]
        best = max(cell.value for cell in cells)
        assert [cell.best for cell in cells] == [cell.value == best for cell in cells]
        for cell in cells:
            assert cell.best or cell.p_value is not None
            assert cell.tied_with_best == (cell.best or cell.p_value >= table.alpha)
    # on 12 questions the strong system is clearly above the weak one at R@1, IoU 0.5
    weakest = table.rows[-1].cells["R1_IoU0.5"]
    assert not weakest.tied_with_best and weakest.p_value < 0.05


def test_identical_entries_tie_and_share_a_rank(store, tmp_path):
    copy_root = tmp_path / "store"
    shutil.copytree(store.root, copy_root)
    original = store.entries()[0]
    clone = copy_root / "clone"
    shutil.copytree(original.path, clone)
    meta = json.loads((clone / "meta.json").read_text())
    meta.update(entry_id="clone", name="A clone")
    (clone / "meta.json").write_text(json.dumps(meta))
    (table,) = build_tables(SubmissionStore(copy_root).entries())
    rows = {row.entry.meta.entry_id: row for row in table.rows}
    twin, first = rows["clone"], rows[original.meta.entry_id]
    assert twin.rank == first.rank
    for key, cell in twin.cells.items():
        assert cell.value == first.cells[key].value
        assert cell.tied_with_best == first.cells[key].tied_with_best


def test_only_comparable_entries_share_a_table(store, tmp_path):
    copy_root = tmp_path / "store"
    shutil.copytree(store.root, copy_root)
    changes = {"validation": {"split": "validation"}, "other-data": {"data_fingerprint": "f" * 64},
               "other-protocol": {"protocol": "medvidcqa-full-corpus", "protocol_hash": "e" * 64}}
    source = store.entries()[0].path
    for folder, change in changes.items():
        shutil.copytree(source, copy_root / folder)
        meta = json.loads((source / "meta.json").read_text())
        meta.update(entry_id=folder, **change)
        (copy_root / folder / "meta.json").write_text(json.dumps(meta))
    tables = build_tables(SubmissionStore(copy_root).entries())
    assert sorted(len(t.rows) for t in tables) == [1, 1, 1, 3]
    assert [t.split for t in tables][0] == "test" and tables[-1].split == "validation"
    assert [t.split for t in build_tables(SubmissionStore(copy_root).entries(), split="val")] == ["validation"]
    assert len({t.slug for t in tables}) == 4


def test_two_scorer_versions_render_as_two_tables(store, tmp_path):
    copy_root = tmp_path / "store"
    shutil.copytree(store.root, copy_root)
    source = store.entries()[0]
    shutil.copytree(source.path, copy_root / "rescored")
    meta = json.loads((source.path / "meta.json").read_text())
    meta.update(entry_id="rescored", scorer_version=f"{source.meta.scorer_version}-next")
    (copy_root / "rescored" / "meta.json").write_text(json.dumps(meta))
    tables = build_tables(SubmissionStore(copy_root).entries())
    assert sorted(len(t.rows) for t in tables) == [1, len(store.entries())]
    assert {t.scorer_version for t in tables} == {source.meta.scorer_version, f"{source.meta.scorer_version}-next"}
    assert len({t.slug for t in tables}) == 2
    text = render_markdown(tables)
    assert text.count("## ") == 2 and f"scorer {source.meta.scorer_version}-next;" in text


def _markdown_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| #"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_markdown_shows_the_numbers_of_scores_json(store, rendered):
    text = (rendered.files[0]).read_text()
    rows = _markdown_rows(text)
    entries = {markdown(e.meta.name): e for e in store.entries()}
    assert len(rows) == len(entries) == len(DEMO_SYSTEMS)
    for row in rows:
        name = re.sub(r"^\[(.*)\]\(<[^>]*>\)( \(\[paper\]\(<[^>]*>\)\))?$", r"\1", row[1])
        entry = entries[name]
        metrics = _scores(entry)["metrics"]
        shown = [re.sub(r"[*†]", "", cell) for cell in row[3:]]
        assert shown == [f"{metrics[column.key]:.2f}" for column in CORPUS_COLUMNS]
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "javascript:" not in text  # the unsafe paper link of one entry is dropped


def test_csv_has_every_value_and_interval(store, rendered):
    rows = list(csv.DictReader(io.StringIO((rendered.files[1]).read_text())))
    by_id = {row["entry_id"]: row for row in rows}
    for entry in store.entries():
        row, scores = by_id[entry.meta.entry_id], _scores(entry)
        for column in CORPUS_COLUMNS:
            assert float(row[column.key]) == pytest.approx(scores["metrics"][column.key], abs=5e-5)
            low, high = scores["ci"][column.key]
            assert float(row[f"{column.key}_low"]) == pytest.approx(low, abs=5e-5)
            assert float(row[f"{column.key}_high"]) == pytest.approx(high, abs=5e-5)
    assert render_csv(build_tables(store.entries())).count("\n") == len(DEMO_SYSTEMS) + 1


def test_latex_is_in_shape(store, rendered):
    text = (rendered.files[2]).read_text()
    begins = re.findall(r"\\begin\{(\w+\*?)\}", text)
    ends = re.findall(r"\\end\{(\w+\*?)\}", text)
    assert begins == ["table*", "tabular"] and sorted(begins) == sorted(ends)
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    unescaped = re.sub(r"\$\^\\dagger\$|\\[\\{}_%&$#]|\\[a-zA-Z]+", "", body)
    assert unescaped.count("{") == unescaped.count("}")
    for char in "_%#$":
        assert char not in unescaped, f"unescaped {char!r}"
    columns = 1 + len(CORPUS_COLUMNS)
    assert f"\\begin{{tabular}}{{l{'c' * len(CORPUS_COLUMNS)}}}" in text
    rows = [line for line in text.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 2 + len(DEMO_SYSTEMS)
    for row in rows[2:]:
        assert len(re.split(r"(?<!\\)&", row)) == columns
    assert latex(HOSTILE_NAME) in text
    assert r"50\%\_x \#1" in latex(HOSTILE_NAME) and r"\&" in latex(HOSTILE_NAME)
    assert r"\toprule" in text and r"\midrule" in text and r"\bottomrule" in text
    assert text == render_latex(build_tables(store.entries()))  # deterministic


def test_html_escapes_every_submitter_string(store, rendered):
    page = (rendered.files[3]).read_text()
    assert "<script>window" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own sorting script, and no other
    assert "javascript:" not in page
    assert 'href="https://example.org/a?b=1&amp;c=2"' in page
    # no CDN: every link in the page goes to a host the entries link to
    hosts = {urlsplit(url).netloc for url in re.findall(r"""https?://[^\s"'<>]+""", page)}
    assert hosts == {"example.org", "arxiv.org"}
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!example\.org|arxiv\.org)""", page)
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy


def test_empty_store_renders(tmp_path):
    assert "No submissions yet." in render_markdown([])
    assert "No submissions yet." in render_html([])
    (tmp_path / "empty").mkdir()
    rendered = render_leaderboard(tmp_path / "empty", tmp_path / "out")
    assert rendered.tables == [] and "No submissions yet." in (tmp_path / "out" / "leaderboard.html").read_text()
    with pytest.raises(ConfigError, match="no submissions store at"):  # a mistyped --store publishes nothing
        render_leaderboard(tmp_path / "absent", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_plots_exist_for_every_system(store, rendered):
    plot_files = [path for path in rendered.files if "plots" in path.parts]
    stems = {path.stem for path in plot_files}
    assert stems == {"video_recall", "r1_vs_iou", "slices", "errors"}
    assert {path.suffix for path in plot_files} == {".png", ".svg"}
    for path in plot_files:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
        else:
            svg = path.read_text()
            for name, *_ in DEMO_SYSTEMS:
                assert name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")[:20] in svg


def test_r1_curve_and_error_breakdown_agree_with_the_scorer(store):
    for entry in store.entries():
        values = entry.per_query.values
        curve = r1_threshold_curve(values["R1_mIoU"], np.array([0.3, 0.5, 0.7]))
        assert curve == pytest.approx([entry.metrics[f"R1_IoU{m}"] for m in (0.3, 0.5, 0.7)])
        shares = error_breakdown(values, "corpus")
        assert shares.sum() == pytest.approx(100.0)
        assert shares[3] == pytest.approx(entry.metrics["R1_IoU0.5"])
        assert shares[0] == pytest.approx(100.0 - entry.metrics["video_R100"])
        assert shares[2] + shares[3] == pytest.approx(entry.metrics["video_R1"])
    assert len(ERROR_CATEGORIES) == 4


def test_error_breakdown_by_hand():
    values = {"video_MRR": np.array([0.0, 50.0, 100.0, 100.0]), "video_R1": np.array([0.0, 0.0, 100.0, 100.0]),
              "R1_IoU0.5": np.array([0.0, 0.0, 0.0, 100.0])}
    assert error_breakdown(values, "corpus").tolist() == [25.0, 25.0, 25.0, 25.0]
    assert error_breakdown({"loc_R1_IoU0.5": np.array([0.0, 100.0, 100.0, 100.0])}, "localization").tolist() == \
        [0.0, 0.0, 25.0, 75.0]


def test_escapers():
    assert markdown("a|b*c_<d>") == r"a\|b\*c\_&lt;d&gt;"
    assert latex("50% & x_1 {a} \\") == r"50\% \& x\_1 \{a\} \textbackslash{}"
    assert safe_url("javascript:alert(1)") is None and safe_url("data:text/html,x") is None
    assert safe_url(" https://a.org/x ") == "https://a.org/x" and safe_url("") is None


def test_entries_read_back_identically(store):
    for entry in store.entries():
        again = read_entry(entry.path)
        assert again.metrics == entry.metrics and again.meta == entry.meta


def test_localization_track_gets_its_own_columns_and_plots(tiny_benchmark, tmp_path):
    from benchmark.protocol import load_protocol
    from leaderboard.columns import LOCALIZATION_COLUMNS
    from leaderboard.entry import SubmissionInfo
    from leaderboard.store import submit_predictions
    from tests.leaderboard_helpers import write_simulated

    protocol = load_protocol("medvidcqa-paper").replace(name="localization-test", task="localization")
    split, corpus = tiny_benchmark.split("test"), tiny_benchmark.corpus("test")
    store = SubmissionStore(tmp_path / "store")
    for index, jitter in enumerate((0.05, 0.8)):
        path = write_simulated(tmp_path / f"loc{index}.jsonl", split, corpus, first_rate=1.0, jitter=jitter,
                               seed=index, task="localization")
        submit_predictions(store, path, tiny_benchmark, "test", SubmissionInfo(f"loc {index}"), protocol)
    rendered = render_leaderboard(store, tmp_path / "out")
    (table,) = rendered.tables
    assert table.task == "localization" and table.columns == LOCALIZATION_COLUMNS
    assert table.headline == "loc_R1_IoU0.5" and table.rows[0].entry.meta.name == "loc 0"
    header = next(line for line in (tmp_path / "out" / "leaderboard.md").read_text().splitlines()
                  if line.startswith("| #"))
    assert "Loc IoU=0.5" in header and "Video R@1" not in header
    stems = {path.stem for path in rendered.files if path.suffix == ".png"}
    assert stems == {"r1_vs_iou", "slices", "errors"}


def test_markdown_renders_to_no_submitter_tag(rendered):
    """CommonMark passes raw HTML through (GitHub too): rendered, leaderboard.md must hold only the
    table's own tags, one row per entry with every cell, and only http(s) links."""
    from html.parser import HTMLParser

    from markdown_it import MarkdownIt

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.hrefs, self.rows = [], [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            if tag == "a":
                self.hrefs.append(dict(attrs)["href"])
            if tag == "tr":
                self.rows.append(0)
            if tag in ("td", "th"):
                self.rows[-1] += 1

    text = rendered.files[0].read_text()
    assert "<img" in HOSTILE_LINKS[0]["url"] and "\n" in HOSTILE_LINKS[0]["paper"]
    page = MarkdownIt("commonmark").enable("table").render(text)
    parser = Tags()
    parser.feed(page)
    assert set(parser.tags) <= {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "a", "strong", "code"}
    assert len(parser.rows) == 1 + len(DEMO_SYSTEMS) and len(set(parser.rows)) == 1  # no row broken or injected
    assert all(href.startswith(("https://", "http://")) for href in parser.hrefs)
    assert not [href for href in parser.hrefs if "onerror" in href]  # a link with whitespace is not rendered
    assert markdown_url("https://example.org/>)<img") == "https://example.org/%3E)%3Cimg"


@pytest.mark.parametrize("field, link", [
    ("url", "https://x.org/>)<img src=x onerror=alert(4)>"), ("paper", "https://x.org/a\n| injected |"),
    ("url", "javascript:alert(1)"), ("paper", "ftp://x.org/a"), ("url", "x.org/a")])
def test_submit_accepts_only_plain_http_links(tiny_data_dir, tmp_path, capsys, field, link):
    from tests.leaderboard_helpers import write_simulated
    from vcval.main import main

    predictions = tmp_path / "p.jsonl"
    write_simulated(predictions, *_tiny_test(tiny_data_dir), first_rate=0.5, jitter=0.5, seed=0)
    argv = ["submit", str(predictions), "--data-dir", str(tiny_data_dir), "--split", "test", "--store",
            str(tmp_path / "s"), "--name", "x"]
    assert main([*argv, f"--{field}", link]) == 2
    err = capsys.readouterr().err
    assert f"field '{field}'" in err and "give an http(s) link" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()
    assert main([*argv, f"--{field}", "https://x.org/a?b=1&c=%3C"]) == 0


def _tiny_test(data_dir):
    from benchmark.data import load_benchmark

    benchmark = load_benchmark(data_dir)
    return benchmark.split("test"), benchmark.corpus("test")
