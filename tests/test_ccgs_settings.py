"""CCGS settings grouped by concern: every field has one and a docstring, `vcval train ccgs --help` groups
its flags by it, and the settings table of docs/ccgs.md is what ccgs.settings_table writes."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from benchmark.errors import ConfigError
from benchmark.options import field_docs
from ccgs.config import CONCERNS, CCGSConfig, setting, settings_by_concern
from ccgs.settings_table import BEGIN, END, replace_table, settings_table
from vcval.main import main

DOCS = Path(__file__).resolve().parents[1] / "docs" / "ccgs.md"


def test_every_setting_has_exactly_one_concern_and_a_docstring():
    fields = dataclasses.fields(CCGSConfig)
    docs = field_docs(CCGSConfig)
    for field in fields:
        assert field.metadata.get("concern") in CONCERNS, field.name
        assert docs.get(field.name, "").strip(), f"{field.name} has no docstring"
    grouped = [name for names in settings_by_concern().values() for name in names]
    assert sorted(grouped) == sorted(field.name for field in fields) and len(set(grouped)) == len(grouped)
    assert all(settings_by_concern().values())  # no concern is empty
    # the class reads concern by concern: the fields' concerns never go back in CONCERNS order
    positions = [CONCERNS.index(field.metadata["concern"]) for field in fields]
    assert positions == sorted(positions)


def test_a_setting_names_a_known_concern():
    with pytest.raises(ValueError, match="unknown concern 'speed'"):
        setting(1, "speed")  # type: ignore[arg-type]


def test_train_ccgs_help_groups_the_flags_by_concern_in_order(capsys):
    with pytest.raises(SystemExit):
        main(["train", "ccgs", "--help"])
    text = capsys.readouterr().out
    headings = [f"\nsettings: {concern}:\n" for concern in CONCERNS]
    starts = [text.index(heading) for heading in headings]
    assert starts == sorted(starts)
    sections = [text[start + 1:].split("\n\n", 1)[0] for start in starts]  # a group ends at a blank line
    for section, names in zip(sections, settings_by_concern().values(), strict=True):
        flags = set(re.findall(r"^  (--[\w-]+)", section, flags=re.MULTILINE))
        assert flags == {f"--{name.replace('_', '-')}" for name in names}, section[:40]


def test_the_docs_settings_table_matches_the_schema():
    text = DOCS.read_text(encoding="utf-8")
    assert replace_table(text) == text, "docs/ccgs.md: run `python -m ccgs.settings_table docs/ccgs.md`"
    table = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert rows == [name for names in settings_by_concern().values() for name in names]
    assert f"**{CONCERNS[0]}**" in settings_table()


def test_the_table_needs_its_markers():
    with pytest.raises(ConfigError, match="docs/ccgs.md: expected one line"):
        replace_table("no markers here")
