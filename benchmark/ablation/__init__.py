"""Experiments (ablation grids): systems x settings x seeds, each variant under its protocol, compared in
one table with paired tests, drawn as bars or a curve, and published with their predictions.

An experiment file (YAML; every field in docs/harness.md "Experiments")::

    name: ccgs-ablation              # optional (default: the file's stem)
    protocol: medvidcqa-paper        # optional: a shipped protocol, a protocol file (relative to the file), a mapping
    split: test                      # optional: the evaluated split (default: the protocol's)
    seeds: [42, 43]                  # optional (default: the protocol's seeds)
    data: {synthetic: mini, seed: 0} # or data_dir: a folder (relative to the file); --data-dir overrides
    encoders: {tiny: {shape: tiny}}  # optional: random-init encoders, used as encoder: "@tiny"
    systems:                         # system name -> configuration shared by all its settings
      ccgs: {preset: tiny, encoder: "@tiny"}
    settings:                        # optional: setting name -> overrides applied to every system
      paper: {}
      no-visual: {visual: false}
    variants:                        # optional: more variants, each with its own system, config and protocol
      ccgs-corpus: {system: ccgs, config: {preset: tiny}, protocol: corpus.yaml}
    sweep: {setting: max_train_examples, values: [64, 128], variants: [ccgs/paper]}   # optional
    base: ccgs/paper                 # the variant the others are tested against
    comparisons: [[ccgs-corpus, ccgs/paper@128]]  # optional: more pairs (same protocol)
    metrics: [video_R1, R1_IoU0.5, R1_mIoU]       # optional: table columns
    figure: {kind: curve, metric: R1_mIoU}        # optional (default: bars)
    results: ../benchmarks/results/ccgs-ablation  # optional: where --publish copies tables and predictions

Each variant (``system/setting``, ``system``, an explicit name, or ``name@value`` for a swept one) runs once
per seed through :func:`benchmark.harness.run_system`. The table gives the mean +/- standard deviation over
seeds, and for each tested pair and metric the difference with a paired test over the questions
(per-question values averaged over seeds, approximate randomization), p-values Holm-corrected across every
test of the table.
"""

from benchmark.ablation.publish import publish
from benchmark.ablation.run import run_cells, run_grid
from benchmark.ablation.spec import Grid, Variant, grid_from_mapping, load_grid
from benchmark.ablation.table import Comparison, GridResult, VariantRow, compare_runs

__all__ = ["Comparison", "Grid", "GridResult", "Variant", "VariantRow", "compare_runs", "grid_from_mapping",
           "load_grid", "publish", "run_cells", "run_grid"]
