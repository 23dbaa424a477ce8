"""Per-split statistics of a loaded benchmark (``vcval data describe``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from benchmark.data.ceiling import label_ceiling
from benchmark.data.loader import Benchmark
from benchmark.data.sources import SPLITS
from benchmark.records import Annotation, SplitData, Video


@dataclass(frozen=True)
class SplitStatistics:
    split: str
    questions: int
    videos: int
    hours: float
    mean_video_length_s: float
    mean_answer_length_s: float
    subtitle_coverage: float  # share of the split's videos that have at least one subtitle piece
    mean_pieces_per_video: float
    features_coverage: float  # share of the split's videos that have a feature file
    label_ceiling_miou: float  # mean best IoU reachable with spans of whole subtitle pieces (%)
    label_ceiling_iou05: float  # share of questions whose best piece span reaches IoU 0.5 (%)


def split_statistics(name: str, annotations: list[Annotation], videos: list[Video]) -> SplitStatistics:
    count = max(len(videos), 1)
    ceiling = label_ceiling(SplitData(name, tuple(annotations), {v.video_id: v for v in videos}))
    return SplitStatistics(
        split=name,
        questions=len(annotations),
        videos=len(videos),
        hours=round(sum(v.duration for v in videos) / 3600, 2),
        mean_video_length_s=round(sum(v.duration for v in videos) / count, 1),
        mean_answer_length_s=round(sum(a.end - a.start for a in annotations) / max(len(annotations), 1), 1),
        subtitle_coverage=round(sum(bool(v.pieces) for v in videos) / count, 3),
        mean_pieces_per_video=round(sum(len(v.pieces) for v in videos) / count, 1),
        features_coverage=round(sum(v.feature_path is not None for v in videos) / count, 3),
        label_ceiling_miou=round(100 * ceiling.mean, 1),
        label_ceiling_iou05=round(100 * ceiling.share_at(0.5), 1),
    )


def describe(benchmark: Benchmark) -> dict:
    """Statistics per split and over all splits (each video counted once), plus what is missing."""
    rows = []
    all_annotations: list[Annotation] = []
    all_videos: dict[str, Video] = {}
    for split in SPLITS:
        data = benchmark.splits[split]
        rows.append(split_statistics(split, list(data.annotations), list(data.videos.values())))
        all_annotations += data.annotations
        all_videos.update(data.videos)
    rows.append(split_statistics("all", all_annotations, list(all_videos.values())))
    return {
        "data_dir": benchmark.data_dir,
        "format": benchmark.data_format,
        "fingerprint": benchmark.fingerprint,
        "splits": [asdict(row) for row in rows],
        "corpus_only_videos": len(benchmark.corpus_videos),
        "videos_without_subtitles": len(benchmark.videos_without_subtitles),
        "questions_without_subtitles": sum(
            a.video_id in set(benchmark.videos_without_subtitles) for a in all_annotations),
    }


def render_description(description: dict) -> str:
    header = ("split", "questions", "videos", "hours", "mean video s", "mean answer s", "subtitles", "pieces/video",
              "features", "ceiling mIoU", "ceiling IoU>=.5")
    lines = [f"data: {description['data_dir']} (format {description['format']})",
             f"fingerprint: {description['fingerprint']}", ""]
    table = [header]
    for row in description["splits"]:
        table.append((row["split"], str(row["questions"]), str(row["videos"]), f"{row['hours']:.2f}",
                      f"{row['mean_video_length_s']:.1f}", f"{row['mean_answer_length_s']:.1f}",
                      f"{100 * row['subtitle_coverage']:.0f}%", f"{row['mean_pieces_per_video']:.1f}",
                      f"{100 * row['features_coverage']:.0f}%", f"{row['label_ceiling_miou']:.1f}",
                      f"{row['label_ceiling_iou05']:.1f}%"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    lines.append("\nceiling: the best IoU that a span of whole subtitle pieces reaches with each answer (mean, and "
                 "the share of questions at IoU >= 0.5): an upper bound for piece-span localizers such as CCGS.")
    if description["corpus_only_videos"]:
        lines.append(f"\n{description['corpus_only_videos']} more videos from corpus.json join every split's corpus.")
    if description["videos_without_subtitles"]:
        lines.append(f"\nwarning: {description['videos_without_subtitles']} videos "
                     f"({description['questions_without_subtitles']} questions) have no subtitles; pass "
                     "--subtitles DIR with <video_id>.json/.vtt/.srt files.")
    return "\n".join(lines)
