"""The run manifest's schema: written with its version, read back typed, older layouts read, newer refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from benchmark.harness import run_system
from benchmark.harness.manifest import SCHEMA_VERSION, ManifestError, RunEnvironment, RunManifest
from benchmark.harness.run_folder import read_verified_manifest
from benchmark.harness.runner import load_run
from benchmark.protocol import load_protocol
from benchmark.registry import register_system, unregister_system
from tests.harness_systems import make_overlap

REPO = Path(__file__).resolve().parents[1]
SOURCE = "runs/a/manifest.json"


@pytest.fixture(scope="module", autouse=True)
def overlap_system():
    register_system("overlap", make_overlap, replace=True)
    yield
    unregister_system("overlap")


def _manifest(**changes) -> RunManifest:
    protocol = load_protocol("medvidcqa-paper").bind("synthetic-tiny", "f" * 64, "test")
    values = dict(system="bm25+window", config={"bm25": {"k1": 1.2}, "seed": 3}, split="test", seed=3,
                  protocol=protocol, protocol_hash=protocol.hash, data_dir="/data/tiny", selection="validation",
                  fitted={"window_s": 12.0}, deviations=("config 'seed' = 3 where the protocol's seed is 42",),
                  timings_s={"fit": 0.5, "predict": 1.25}, wall_time_s=2.5, finished_at_ms=1_700_000_000_000,
                  environment=RunEnvironment(git_commit="abc", git_dirty=False, versions={"python": "3.11.9"},
                                             device="cpu: x86_64, 2 cores", platform="Linux"),
                  experiment="vcval-medvidcqa-paper", run_name="bm25+window seed 3",
                  labels={"grid": "g", "variant": "v"}, files_sha256={"predictions.jsonl": "0" * 64})
    values.update(changes)
    return RunManifest(**values)


def _as_file(manifest: RunManifest) -> dict:
    """What ``manifest.json`` holds, through JSON as a reader gets it."""
    return json.loads(json.dumps(manifest.to_dict()))


def test_a_manifest_round_trips_through_its_json_file():
    manifest = _manifest()
    written = _as_file(manifest)
    assert next(iter(written)) == "schema_version" and written["schema_version"] == SCHEMA_VERSION == 1
    assert RunManifest.from_mapping(written, SOURCE) == manifest


def test_a_run_folder_records_the_schema_version_and_reads_back_typed(tiny_benchmark, tmp_path):
    result = run_system("overlap", tiny_benchmark, tmp_path / "run", split="test", track=False, echo=False)
    written = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION
    manifest = read_verified_manifest(tmp_path / "run")
    assert manifest.protocol == result.protocol and manifest.seed == 42 and manifest.system == "overlap"
    assert manifest.to_dict() == written  # nothing lost or renamed on the way back
    assert load_run(tmp_path / "run").metrics == result.metrics


def test_an_older_manifest_without_a_version_reads_as_version_1():
    old = _as_file(_manifest())
    for key in ("schema_version", "fitted", "files_sha256"):  # written before these were recorded
        del old[key]
    manifest = RunManifest.from_mapping(old, SOURCE)
    assert manifest.schema_version == 1 and manifest.fitted == {} and manifest.files_sha256 is None
    assert manifest.system == "bm25+window" and manifest.deviations == _manifest().deviations


def test_the_committed_run_manifests_read():
    listed = subprocess.run(["git", "ls-files", "*manifest.json"], cwd=REPO, capture_output=True, text=True,
                            check=False).stdout.split()
    if not listed:
        pytest.skip("no committed run manifests in this checkout")
    for name in listed:
        manifest = RunManifest.from_mapping(json.loads((REPO / name).read_text()), name)
        assert manifest.schema_version == 1 and manifest.protocol.hash == manifest.protocol_hash


@pytest.mark.parametrize("version", [2, 17, 0])
def test_a_manifest_of_an_unknown_version_is_refused_naming_it(version):
    with pytest.raises(ManifestError) as error:
        RunManifest.from_mapping(_as_file(_manifest()) | {"schema_version": version}, SOURCE)
    message = str(error.value)
    assert message.startswith(f"{SOURCE}: run manifest schema_version {version} cannot be read")
    assert "\n" not in message and ("newer vcval" in message) == (version > SCHEMA_VERSION)


def test_a_newer_run_folder_is_refused_by_its_readers(tiny_benchmark, tmp_path):
    run_system("overlap", tiny_benchmark, tmp_path / "run", split="test", track=False, echo=False)
    path = tmp_path / "run" / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"schema_version": 2}))
    with pytest.raises(ManifestError, match=f"^{path}: run manifest schema_version 2 cannot be read"):
        load_run(tmp_path / "run")


@pytest.mark.parametrize(("change", "expected"), [
    ({"seed": "three"}, "field 'seed' = 'three': expected an integer"),
    ({"seed": True}, "field 'seed' = True: expected an integer"),
    ({"seed": "42"}, "field 'seed' = '42': expected an integer"),
    ({"wall_time_s": "2.5"}, "field 'wall_time_s' = '2.5': expected a number"),
    ({"schema_version": "1"}, "field 'schema_version' = '1': expected an integer"),
    ({"wall_time_s": [1]}, "field 'wall_time_s' = [1]: expected a number"),
    ({"labels": {"grid": 3}}, "field 'labels.grid' = 3"),
    ({"environment": {"git_commit": "abc"}}, "field 'environment.git_dirty'"),
    ({"extra": 1}, "has no field 'extra'"),
])
def test_a_malformed_manifest_names_the_file_and_the_field(change, expected):
    with pytest.raises(ManifestError) as error:
        RunManifest.from_mapping(_as_file(_manifest()) | change, SOURCE)
    message = str(error.value)
    assert message.startswith(SOURCE) and expected in message and "\n" not in message


def test_a_missing_field_and_a_bad_protocol_are_named():
    written = _as_file(_manifest())
    del written["system"]
    with pytest.raises(ManifestError, match=f"^{SOURCE}: field 'system' is missing$"):
        RunManifest.from_mapping(written, SOURCE)
    bad_protocol = _as_file(_manifest())
    bad_protocol["protocol"]["max_candidates"] = "many"
    with pytest.raises(ManifestError, match=f"^{SOURCE}: protocol: field 'max_candidates' = 'many': expected an integer"):
        RunManifest.from_mapping(bad_protocol, SOURCE)
    with pytest.raises(ManifestError, match="not a run manifest"):
        RunManifest.from_mapping([1, 2], SOURCE)


def test_environment_records_torch_threads_when_torch_is_loaded(monkeypatch):
    import sys

    import torch

    from benchmark.harness.environment import environment

    assert environment().torch_threads == torch.get_num_threads()
    monkeypatch.delitem(sys.modules, "torch")
    assert environment().torch_threads is None
