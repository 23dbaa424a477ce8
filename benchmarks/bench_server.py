"""Throughput and latency of ``vcval serve``: 8 concurrent clients uploading predictions over HTTP to a
uvicorn server in its own process, for a 155-question split (MedVidCQA's test size) and a 20,000-question
one, on SQLite and on PostgreSQL (a throwaway cluster, when ``initdb`` is installed). Reports uploads per
second, p50/p95 latency, the server's peak memory (VmHWM), and where the time of one upload goes (save,
validate, score + store, read per-question values, aggregate + database).

    python benchmarks/bench_server.py                                   # full: 64 and 16 uploads per case
    python benchmarks/bench_server.py --uploads-small 16 --uploads-large 4   # a busy machine

Each upload has its own content (a header naming the upload), so every one is validated, scored and
written to the store (the store keeps one entry per content). Results: benchmarks/results/server_bench.json
and .md. The split is synthetic (questions over videos with random durations); only its size matters here.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmark.data.loader import Benchmark  # noqa: E402
from benchmark.predictions import write_predictions  # noqa: E402
from benchmark.protocol import load_protocol  # noqa: E402
from benchmark.records import Annotation, Candidate, Prediction, SplitData, Video  # noqa: E402
from leaderboard.entry import SubmissionInfo  # noqa: E402
from leaderboard.store import SubmissionStore  # noqa: E402
from server import admin  # noqa: E402
from server.app import create_app  # noqa: E402
from server.challenge import Challenge  # noqa: E402
from server.client import upload  # noqa: E402
from server.metadata import Metadata  # noqa: E402
from server.service import make_service  # noqa: E402
from server.settings import ServerSettings  # noqa: E402
from server.uploads import save_upload  # noqa: E402
from tests.server_support import PostgresCluster, _pg_tool, free_port  # noqa: E402

CLIENTS = 8
RESULTS = REPO / "benchmarks" / "results"


def synthetic_benchmark(n_questions: int, seed: int = 0) -> Benchmark:
    """A split of ``n_questions`` over ``n_questions // 3`` videos (at least 50); no subtitles are needed."""
    rng = np.random.default_rng(seed)
    n_videos = max(50, n_questions // 3)
    videos = {f"v{i}": Video(f"v{i}", float(rng.uniform(120, 900))) for i in range(n_videos)}
    ids = list(videos)
    annotations = []
    for q in range(n_questions):
        video = videos[ids[int(rng.integers(n_videos))]]
        start = float(rng.uniform(0, video.duration - 60))
        annotations.append(Annotation(f"q{q}", f"question {q}", video.video_id, round(start, 1),
                                      round(start + float(rng.uniform(10, 60)), 1), video.duration))
    test = SplitData("test", tuple(annotations), {v: videos[v] for v in {a.video_id for a in annotations}})
    empty = SplitData("train", (), {})
    return Benchmark(f"bench-{n_questions}", "synthetic", {"train": empty, "validation": SplitData("validation", (), {}),
                                                            "test": test}, {}, ())


def predictions_body(bench: Benchmark, folder: Path, seed: int = 1) -> bytes:
    """Five candidates per question, the gold video first half of the time, as file bytes without a header."""
    rng = np.random.default_rng(seed)
    split = bench.split("test")
    ids = sorted(split.videos)
    predictions = []
    for a in split.annotations:
        chosen = [a.video_id] if rng.random() < 0.5 else []
        chosen += [ids[int(i)] for i in rng.integers(len(ids), size=5 - len(chosen))]
        candidates = []
        for video_id in chosen:
            duration = split.videos[video_id].duration
            start = float(rng.uniform(0, duration - 30))
            candidates.append(Candidate(video_id, round(start, 1), round(start + 30, 1), 1.0))
        predictions.append(Prediction(a.qid, tuple(candidates)))
    path = write_predictions(folder / "body.jsonl", predictions)
    return path.read_bytes()


def serve(settings_json: str, n_questions: int, port: int, ready) -> None:
    settings = ServerSettings.from_json(settings_json)
    bench = synthetic_benchmark(n_questions)
    challenge = Challenge(bench, load_protocol(settings.protocol), SubmissionStore(settings.store))
    service = make_service(settings, challenge)
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(settings, service), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=lambda: (time.sleep(0.5), ready.set()), daemon=True).start()
    server.run()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_case(db_kind: str, db_url: str, n_questions: int, n_uploads: int, work: Path) -> dict:
    store = work / f"store-{db_kind}-{n_questions}"
    settings = ServerSettings(data_dir=str(work), db_url=db_url, store=str(store), daily_quota=10**6,
                              total_quota=10**6, max_upload_bytes=1 << 30, max_expanded_bytes=1 << 30)
    bench = synthetic_benchmark(n_questions)
    body = predictions_body(bench, work)
    setup = make_service(settings, Challenge(bench, load_protocol(settings.protocol), SubmissionStore(store)))
    token = admin.add_team(setup, "bench")
    phases = time_one_upload(setup, body, work)
    setup.db.dispose()

    port = free_port()
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    process = context.Process(target=serve, args=(settings.to_json(), n_questions, port, ready), daemon=True)
    process.start()
    ready.wait(120)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            upload_file = work / "probe.jsonl"
            upload_file.write_bytes(b'{"format": "vcval-predictions", "version": 1}\n' + body)
            if upload(upload_file, url, token, {}, dry_run=True).status == 200:
                break
        except Exception:
            time.sleep(0.2)
    files = []
    for i in range(n_uploads):
        path = work / f"upload-{i}.jsonl"
        path.write_bytes(json.dumps({"format": "vcval-predictions", "version": 1, "system": f"u{i}"}).encode()
                         + b"\n" + body)
        files.append(path)
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()
    queue = list(files)

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                path = queue.pop()
            started = time.perf_counter()
            status = upload(path, url, token, {"method": path.stem}).status
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(status)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    peak = peak_rss_mb(process.pid)
    process.terminate()
    process.join(30)
    for path in files:
        path.unlink()
    ordered = sorted(latencies)
    return {"database": db_kind, "questions": n_questions, "uploads": n_uploads, "clients": CLIENTS,
            "file_bytes": len(body), "ok": statuses.count(201), "uploads_per_s": n_uploads / wall,
            "p50_s": statistics.median(ordered), "p95_s": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "server_peak_rss_mb": peak, "one_upload_phases_s": phases}


def time_one_upload(service, body: bytes, work: Path) -> dict:
    """The phases of one upload, called directly (no HTTP): where the time goes."""
    source = work / "phases.jsonl"
    source.write_bytes(b'{"format": "vcval-predictions", "version": 1, "system": "phases"}\n' + body)
    times = {}
    started = time.perf_counter()
    with open(source, "rb") as handle:
        saved = save_upload(handle, work / "phases-copy", source.name, 1 << 30, 1 << 30)
    times["save (copy, hash)"] = time.perf_counter() - started
    started = time.perf_counter()
    assert service.check_file(saved) == []
    times["validate"] = time.perf_counter() - started
    with service.db.writing() as session:
        submission = service.new_submission(1, saved, Metadata("phases"))
        session.add(submission)
        session.flush()
        submission_id = submission.id
    started = time.perf_counter()
    entry = service.challenge.store_entry(saved.path, SubmissionInfo("phases"), "bench")
    times["score + store (re-validates, bootstrap, writes the entry)"] = time.perf_counter() - started
    started = time.perf_counter()
    measurement = service.challenge.measure_entry(entry)
    times["read per-question values"] = time.perf_counter() - started
    started = time.perf_counter()
    service.record_score(submission_id, entry.meta.entry_id, measurement, "entry scored")
    times["aggregate (public subset, if any) + database"] = time.perf_counter() - started
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads-small", type=int, default=64, help="uploads of the 155-question file")
    parser.add_argument("--uploads-large", type=int, default=16, help="uploads of the 20,000-question file")
    parser.add_argument("--large", type=int, default=20_000, help="questions of the large split")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS / "server_bench.json")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = []
    with tempfile.TemporaryDirectory(prefix="vcval-bench-server-", dir="/tmp") as folder:
        work = Path(folder)
        work.chmod(0o755)
        cluster = None
        if not args.no_postgres and _pg_tool("initdb"):
            (work / "pg").mkdir()
            (work / "pg").chmod(0o755)
            cluster = PostgresCluster(work / "pg")
            cluster.start()
        try:
            for n_questions, n_uploads in ((155, args.uploads_small), (args.large, args.uploads_large)):
                backends = [("sqlite", f"sqlite:///{work / f'server-{n_questions}.db'}")]
                if cluster is not None:
                    backends.append(("postgresql", cluster.database()))
                for kind, url in backends:
                    case_work = work / f"{kind}-{n_questions}"
                    case_work.mkdir()
                    result = run_case(kind, url, n_questions, n_uploads, case_work)
                    print(json.dumps(result), flush=True)
                    results.append(result)
        finally:
            if cluster is not None:
                cluster.stop()
    record = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
              "load_average_at_start": os.getloadavg(), "command": " ".join(sys.argv), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(render(record), encoding="utf-8")
    print(render(record))
    return 0


def render(record: dict) -> str:
    lines = [f"# vcval serve: {CLIENTS} concurrent clients", "", f"Machine: {record['machine']}; load average at "
             f"start {', '.join(f'{x:.1f}' for x in record['load_average_at_start'])}. Command: "
             f"`{record['command']}`.", "",
             "| database | questions | file MB | uploads | scored | uploads/s | p50 s | p95 s | server peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in record["results"]:
        lines.append(f"| {r['database']} | {r['questions']} | {r['file_bytes'] / 1e6:.2f} | {r['uploads']} | {r['ok']} | "
                     f"{r['uploads_per_s']:.2f} | {r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['server_peak_rss_mb']:.0f} |")
    lines += ["", "Where the time of one upload goes (called directly, no HTTP), seconds:", "",
              "| database | questions | " + " | ".join(record["results"][0]["one_upload_phases_s"]) + " |",
              "|---|---|" + "---|" * len(record["results"][0]["one_upload_phases_s"])]
    for r in record["results"]:
        lines.append(f"| {r['database']} | {r['questions']} | "
                     + " | ".join(f"{v:.3f}" for v in r["one_upload_phases_s"].values()) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
