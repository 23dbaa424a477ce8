"""The system registry and configuration parsing."""

from __future__ import annotations

import pytest

from benchmark import registry
from benchmark.errors import ConfigError
from benchmark.harness.settings import load_config_file, parse_assignments, resolve_config
from benchmark.registry import create_system, register_system, resolve_system, unregister_system
from tests.harness_systems import OverlapSystem, make_overlap


@pytest.fixture
def overlap_registered():
    register_system("overlap-test", make_overlap)
    yield "overlap-test"
    unregister_system("overlap-test")


def test_registered_and_imported_factories_build_systems(overlap_registered):
    system = create_system(overlap_registered, {"window_s": 10})
    assert isinstance(system, OverlapSystem) and system.window_s == 10
    entry = resolve_system("tests.harness_systems:make_overlap")
    assert entry.factory is make_overlap and entry.source == "import"
    assert entry.summary.startswith("Word-overlap retrieval")
    with pytest.raises(ConfigError, match="already registered"):
        register_system(overlap_registered, make_overlap)
    register_system(overlap_registered, make_overlap, replace=True)


def test_factory_config_errors_and_non_systems_are_config_errors(overlap_registered):
    with pytest.raises(ConfigError, match="has no option colour"):
        create_system(overlap_registered, {"colour": "red"})
    register_system("not-a-system", lambda config: object())
    try:
        with pytest.raises(ConfigError, match="lacks fit, predict, predict_localization"):
            create_system("not-a-system")
    finally:
        unregister_system("not-a-system")
    with pytest.raises(ConfigError, match="cannot import module 'no_such_module'"):
        resolve_system("no_such_module:factory")
    with pytest.raises(ConfigError, match="has no callable 'nothing'"):
        resolve_system("tests.harness_systems:nothing")


def test_a_missing_catalog_is_an_error_not_a_shorter_list(monkeypatch):
    monkeypatch.setattr(registry, "catalog_modules", lambda: ("vcval_no_such_catalog",))
    with pytest.raises(ConfigError, match="catalog 'vcval_no_such_catalog' cannot be imported"):
        registry.available_systems()
    with pytest.raises(ConfigError, match="catalog 'vcval_no_such_catalog'"):
        resolve_system("bm25")


def test_an_unknown_name_lists_the_known_ones(monkeypatch):
    monkeypatch.setattr(registry, "catalog_modules", lambda: ("tests.harness_systems",))
    monkeypatch.setattr("tests.harness_systems.SYSTEMS", {"overlap": make_overlap}, raising=False)
    assert sorted(registry.available_systems()) == ["overlap"]
    with pytest.raises(ConfigError, match="unknown system 'nope'; known systems: overlap"):
        resolve_system("nope")


def test_set_assignments_nest_and_parse_yaml_scalars():
    assert parse_assignments(["bm25.k1=1.2", "visual=false", "name=paper", "seeds=[1, 2]", "empty=",
                              "bm25.b=0.5", "ratio=1e-5x"]) == {
        "bm25": {"k1": 1.2, "b": 0.5}, "visual": False, "name": "paper", "seeds": [1, 2], "empty": "",
        "ratio": "1e-5x"}
    for bad in ("novalue", "=3", "a..b=1"):
        with pytest.raises(ConfigError, match="expected key=value"):
            parse_assignments([bad])


def test_config_files_and_overrides_merge(tmp_path):
    (tmp_path / "c.yaml").write_text("bm25:\n  k1: 0.9\n  b: 0.4\ntop_k: 5\n")
    (tmp_path / "c.json").write_text('{"top_k": 7}')
    assert resolve_config(tmp_path / "c.yaml", ["bm25.k1=1.5"]) == {"bm25": {"k1": 1.5, "b": 0.4}, "top_k": 5}
    assert load_config_file(tmp_path / "c.json") == {"top_k": 7}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml: a configuration must be a mapping"):
        load_config_file(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="missing.yaml: cannot read"):
        load_config_file(tmp_path / "missing.yaml")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        load_config_file(tmp_path / "broken.json")
