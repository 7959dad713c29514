"""``collect()``: list clips, keep this shard's, skip finished ones, run workers, store, report.

Resume and idempotency come from two facts: a clip's triplets are committed in one transaction
together with the clip's *signature* (a hash of the settings that decide its triplets), and a
clip's triplets and files depend only on the clip and those settings. A re-run therefore skips
every clip stored with the same signature and redoes the rest, producing the same rows and
overwriting the same files with the same bytes; the unique key (clip, frame0, stride, tier)
keeps rows single even if two runs overlap.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from collect.config import CollectConfig
from collect.report import CollectReport, motion_histogram
from collect.sources import SourceError, list_clips
from collect.store import (
    clip_signature,
    deduplicate,
    done_signatures,
    save,
    shard_of,
    summarize,
)
from collect.worker import ClipResult, ClipTask, process_clip
from db.engine import session_scope
from db.migrate import upgrade
from db.models import CollectRun
from dynvfi_core import paths
from dynvfi_core.errors import ConfigError, InputError


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` (1-based) -> (i, N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like i/N (e.g. 1/4), got {text!r}") from None
    if not 1 <= i <= n:
        raise ConfigError(f"--shard {text}: need 1 <= i <= N")
    return i, n


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the parallelism is across clips; avoid oversubscribing the cores


def _run_tasks(tasks: list[ClipTask], workers: int) -> Iterator[tuple[ClipTask, ClipResult]]:
    """Results in completion order; a crashed worker process costs only its in-flight clips."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, process_clip(task)
        return
    queue = list(reversed(tasks))
    while queue:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        running: dict[Future, ClipTask] = {}
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    task = queue.pop()
                    running[pool.submit(process_clip, task)] = task
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    task = running.pop(fut)
                    try:
                        yield task, fut.result()
                    except BrokenProcessPool:
                        yield task, ClipResult(task.clip.key, error="worker process crashed while decoding this clip")
                        for other_fut, other in running.items():
                            if other_fut.done() and other_fut.exception() is None:
                                yield other, other_fut.result()
                            else:
                                yield other, ClipResult(other.clip.key, error="worker process crashed (this or a parallel clip)")
                        running.clear()
                        raise
        except BrokenProcessPool:
            continue  # start a fresh pool for the clips not yet submitted
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _mark_interrupted(url: str, run_id: int, report: CollectReport, seconds: float) -> None:
    """Record an interrupted run as such (``report.interrupted``) instead of leaving it looking unfinished."""
    report.seconds = seconds
    with session_scope(url) as s:
        run = s.get(CollectRun, run_id)
        run.report, run.seconds = {**report.to_dict(), "interrupted": True}, seconds


def _summarise(report: CollectReport, url: str, root: Path, dup_distance: int, keys: list[str],
               errors: list[SourceError], plot: bool, shard: tuple[int, int]) -> None:
    """Fill ``report`` from the database once every clip is stored: near-duplicates removed
    across clips (only possible when all are in), counts per bucket and reason, problems, and
    the motion histogram. Reads the database, so a resumed run reports the whole collection."""
    index, count = shard
    with session_scope(url) as s:
        dup_per_clip, report.duplicates_kept_annotated = deduplicate(s, root, dup_distance)
    with session_scope(url) as s:
        summary = summarize(s, keys)
    report.triplets = summary["buckets"]
    report.rejected = Counter(summary["rejected"])
    near_dup = sum(dup_per_clip[cid] for cid in summary["clip_ids"])
    if near_dup:
        report.rejected["near_duplicate"] = near_dup
    report.tiers_skipped = summary["tiers_skipped"]
    report.strides_skipped = summary["strides_skipped"]
    report.errors = errors + [SourceError(k, w) for k, w in summary["warnings"]]
    if plot:
        hist = motion_histogram(summary["motion"], root / "reports" / f"motion_shard{index}of{count}.png",
                                f"Motion per stride ({report.triplets_total} triplets, shard {index}/{count})")
        report.histogram = str(hist) if hist else None


def collect(
    config: CollectConfig,
    *,
    db_url: str | None = None,
    data_root: str | Path | None = None,
    shard: tuple[int, int] = (1, 1),
    workers: int | None = None,
    progress: bool = True,
    plot: bool = True,
) -> CollectReport:
    """Run (or resume) a collection and return its report; per-source problems never raise."""
    start = time.perf_counter()
    url = db_url or config.db or paths.default_db_url()
    root = Path(data_root or config.data_root or paths.data_root()).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    index, count = shard
    workers = workers or config.workers
    upgrade(url)

    clips, errors = list_clips(config.sources)
    if not clips and errors:  # nothing to collect at all (e.g. the data is not on this machine)
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(f"no clips found: {errors[0].source}: {errors[0].message}{more}")
    mine = [c for c in clips if shard_of(c.key, count) == index - 1]
    signatures = {c.key: clip_signature(c, config.filters) for c in mine}
    with session_scope(url) as s:
        done = done_signatures(s, list(signatures))
        run = CollectRun(config_hash=config.config_hash(), shard=f"{index}/{count}", finished=False)
        s.add(run)
        s.flush()
        run_id = run.id
    todo = [c for c in mine if done.get(c.key) != signatures[c.key]]
    report = CollectReport(shard=f"{index}/{count}", config_hash=config.config_hash(), db_url=url,
                           data_root=str(root), clips_listed=len(clips), clips_in_shard=len(mine),
                           clips_resumed=len(mine) - len(todo), run_id=run_id)
    download = config.download if config.download.dir else replace(config.download, dir=str(root / "downloads"))
    threads = max(1, min(4, (os.cpu_count() or 1) // workers))
    tasks = [ClipTask(c, signatures[c.key], config.filters, str(root), config.png_compression, download, threads)
             for c in todo]
    by_key = {c.key: c for c in todo}

    bar = tqdm(total=len(tasks), unit="clip", desc=f"collect {index}/{count}", disable=not progress)
    try:
        for task, result in _run_tasks(tasks, workers):
            bar.update(1)
            if result.error:
                errors.append(SourceError(task.clip.key, result.error))
                continue
            clip = by_key[result.key]
            with session_scope(url) as s:
                report.triplets_added += save(s, clip, config.splits, task.signature, result)
            report.clips_processed += 1
            bar.set_postfix(triplets=report.triplets_added)
    except KeyboardInterrupt:
        # the clips committed so far stay (a re-run resumes after them); the run row says so
        _mark_interrupted(url, run_id, report, time.perf_counter() - start)
        raise
    finally:
        bar.close()

    _summarise(report, url, root, config.filters.dup_distance, list(signatures), errors, plot, shard)
    report.seconds = time.perf_counter() - start
    with session_scope(url) as s:
        run = s.get(CollectRun, run_id)
        run.report, run.finished, run.seconds = report.to_dict(), True, report.seconds
    return report
