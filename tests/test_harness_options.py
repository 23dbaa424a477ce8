"""The typed options reader: every system setting cast and checked by its type hint, before any work."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest

from baselines.catalog import LOCALIZERS, RETRIEVERS, SYSTEMS
from benchmark.errors import ConfigError
from benchmark.harness.settings import parse_assignments
from benchmark.options import protocol_keys_of, read_options
from benchmark.registry import protocol_keys, resolve_system
from ccgs.catalog import ccgs_system
from ccgs.config import CCGSConfig
from vcval.main import main


@dataclass(frozen=True)
class Options:
    rate: float = 0.1
    steps: int = 3
    flag: bool = True
    mode: Literal["fast", "slow"] = "fast"
    limit: int | None = None
    sizes: tuple[int, ...] = (1,)


def _read(**values):
    return read_options(Options, values, where="system 'demo'", prefix="demo.")


def test_values_are_cast_by_their_type_hint():
    assert _read(rate="5e-5", steps="7", limit="4", sizes="2,4") == Options(5e-5, 7, True, "fast", 4, (2, 4))
    for text, value in (("true", True), ("yes", True), ("on", True), ("false", False), ("no", False),
                        ("off", False)):
        assert _read(flag=text).flag is value
    assert _read(limit=None).limit is None and _read(mode="slow").mode == "slow"


@pytest.mark.parametrize(("values", "expected"), [
    ({"rate": "fast"}, "option 'demo.rate' = 'fast': expected a number"),
    ({"flag": "maybe"}, "option 'demo.flag' = 'maybe': expected a boolean"),
    ({"mode": "medium"}, "option 'demo.mode' = 'medium': expected one of 'fast', 'slow'"),
    ({"steps": 3.5}, "option 'demo.steps' = 3.5: expected an integer"),
    ({"steps": True}, "option 'demo.steps' = True: expected an integer"),
    ({"limit": "lots"}, "option 'demo.limit' = 'lots': expected an integer or null"),
    ({"colour": 1}, "system 'demo' has no option 'demo.colour'"),
])
def test_a_wrong_value_is_one_line_naming_key_value_and_expectation(values, expected):
    with pytest.raises(ConfigError) as error:
        _read(**values)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_set_reads_yaml_1_2_scalars_so_exponents_are_floats_and_no_is_a_string():
    assert parse_assignments(["encoder_lr=5e-5", "mixed_precision=no", "visual=off", "max_span_pieces=null"]) == {
        "encoder_lr": 5e-5, "mixed_precision": "no", "visual": "off", "max_span_pieces": None}


def test_ccgs_settings_from_set_are_typed():
    config = parse_assignments(["encoder_lr=5e-5", "mixed_precision=no", "visual=no", "epochs=2"])
    system = ccgs_system({"encoder": "x", **config})
    assert isinstance(system.config.encoder_lr, float) and system.config.encoder_lr == 5e-5
    assert system.config.mixed_precision == "no" and system.config.visual is False and system.config.epochs == 2
    for bad, expected in (("encoder_lr=fast", "'encoder_lr' = 'fast': expected a number"),
                          ("visual=maybe", "'visual' = 'maybe': expected a boolean"),
                          ("mixed_precision=half", "expected one of 'auto', 'no', 'bf16', 'fp16'"),
                          ("preset=huge", "'preset' = 'huge': expected one of 'paper', 'improved', 'tiny'"),
                          ("resume=perhaps", "'resume' = 'perhaps'")):
        with pytest.raises(ConfigError, match=expected):
            ccgs_system({"encoder": "x", **parse_assignments([bad])})


def test_vcval_run_refuses_a_bad_value_in_one_line_before_reading_data(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "ccgs", "--data-dir", str(tmp_path / "no-data-here"), "--set", "encoder=x",
                 "--set", "encoder_lr=fast", "--out", str(out), "--no-track"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "option 'encoder_lr' = 'fast': expected a number" in error
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert not out.exists()  # nothing was done


def test_every_shipped_factory_declares_its_protocol_keys():
    ccgs = resolve_system("ccgs")
    assert protocol_keys(ccgs) == {"seed": "seed", "max_len": "max_tokens", "selection_metric": "selection_metric"}
    assert protocol_keys(resolve_system("bm25+window")) == {"window.seed": "seed"}
    assert protocol_keys(resolve_system("random")) == {"random.seed": "seed"}
    assert protocol_keys(resolve_system("oracle+textspan")) == {"textspan.seed": "seed",
                                                                "textspan.selection_metric": "selection_metric"}
    assert protocol_keys(resolve_system("bm25+visual")) == {"visual.seed": "seed", "visual.max_clips": "feature_clips",
                                                            "visual.selection_metric": "selection_metric"}
    assert protocol_keys(resolve_system("bm25")) == {}
    # a component whose options have a seed declares it, so no seeded component misses the run seed
    components = [*RETRIEVERS.values(), *LOCALIZERS.values()]
    for cls in {cls for component in components for cls, _ in component.options} | {CCGSConfig}:
        if "seed" in {field.name for field in dataclasses.fields(cls)}:
            assert protocol_keys_of(cls).get("seed") == "seed", cls.__name__
    for factory in SYSTEMS.values():
        assert set(factory.protocol_keys.values()) <= {"seed", "feature_clips", "selection_metric"}
