"""The DPA training loop: AdamW + warm-up/cosine, AMP and DDP on CUDA, resumable state.

Run directory layout (``cfg.out_dir``)::

    config.yaml           the exact settings of the run
    last.safetensors      weights after the latest epoch (or interruption)
    best.safetensors      weights with the best validation accuracy@0.125
    state.pt              optimizer, scheduler, AMP scaler, step counters, RNG states
    train_log.csv         per-step loss / lr; val_log.csv: per-epoch validation metrics
    tb/                   TensorBoard event files
    test/                 evaluation of best.safetensors on the test split (eval.json, PNG)

Multi-GPU: ``torchrun --nproc_per_node=N -m train.cli train --config ...`` (``WORLD_SIZE`` set
by torchrun switches DDP on); each rank reads its own shard of every epoch's permutation.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from tqdm import tqdm

from dynvfi_core.atomic import atomic_path, deferred_interrupt
from dynvfi_core.device import pick_device
from dynvfi_core.dpa.factory import build_model, count_params, read_metadata, run_dpa, save_model
from dynvfi_core.dpa.loss import dpa_loss, normalise_label
from dynvfi_core.dpa.preprocess import normalise
from dynvfi_core.errors import ConfigError, InputError
from train.config import TrainConfig
from train.data import PairDataset, apply_target, epoch_order, load_table, split
from train.curves import plot_learning_curve
from train.evaluate import compute_metrics, evaluate, predict

log = logging.getLogger(__name__)

TRAIN_FIELDS = ["step", "epoch", "lr", "loss", "l1", "aux"]
VAL_FIELDS = ["epoch", "step", "acc@0.125", "acc@0.25", "mae", "srcc", "plcc", "attn_mean"]


@dataclass
class Dist:
    """Who this process is in a (possibly single-process) DDP job."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Dist:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1 (NCCL on CUDA, Gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_deterministic(threads: int | None) -> None:
    """Deterministic kernels where torch has them, and a fixed CPU thread count.

    Why: the same run must give the same network on another machine of the same kind. CPU
    reductions are split by thread, so the thread count changes float sums; cuDNN picks
    algorithms by timing unless told not to. What still varies: results across CPU instruction
    sets (AVX2 vs AVX-512 kernels of oneDNN) and across torch versions, and CUDA vs CPU.
    """
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    if threads is not None:
        torch.set_num_threads(threads)


def seed_worker(worker_id: int) -> None:
    """DataLoader workers: seed numpy/random from torch's per-worker seed (itself from the loader's generator)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices and conv kernels only (not norms, biases or Swin's position-bias tables)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "relative_position_bias_table" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(warmup: int, total: int, min_ratio: float):
    """Linear warm-up to the base LR, then cosine decay to ``min_ratio`` of it at ``total``."""

    def fn(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return fn


class CsvLog:
    """CSV log; a resumed run keeps appending, a fresh run starts a new file."""

    def __init__(self, path: Path, fields: list[str], append: bool) -> None:
        self.path, self.fields = path, fields
        if not (append and path.exists()):
            with path.open("w", newline="") as fh:
                csv.DictWriter(fh, fields).writeheader()

    def write(self, row: dict) -> None:
        with self.path.open("a", newline="") as fh:
            csv.DictWriter(fh, self.fields, extrasaction="ignore").writerow(row)


class Trainer:
    """One training run; :meth:`fit` trains (or resumes) and returns a summary dict."""

    def __init__(self, cfg: TrainConfig, progress: bool = True) -> None:
        self.cfg = cfg
        self.progress = progress
        self.device = pick_device(cfg.device)
        self.dist = setup_distributed(self.device)
        if self.dist.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.out = Path(cfg.out_dir)

        df = apply_target(load_table(cfg.data), cfg.target, cfg.gain_scale)
        self.train_df, self.val_df, self.test_df = split(df, "train"), split(df, "val"), split(df, "test")
        if self.train_df.empty:
            raise InputError("the table has no 'train' rows")
        if self.val_df.empty:
            log.warning("no 'val' rows: the best checkpoint is chosen on the training rows")
            self.val_df = self.train_df
        if cfg.aux_weight > 0 and not np.isfinite(self.train_df["input_perceptual"].to_numpy(float)).any():
            raise ConfigError("aux_weight > 0 but no training row has input_perceptual; set aux_weight: 0")

        make_deterministic(cfg.threads if self.device.type == "cpu" else None)
        seed_everything(cfg.seed)  # same initial weights on every rank and every run
        self.model = build_model(cfg.model).to(self.device)
        self.net = self.model
        if self.dist.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.dataset = PairDataset(self.train_df, cfg.model.view, train=cfg.augment, seed=cfg.seed,
                                   scale_jitter=cfg.scale_jitter, vflip=cfg.vflip, stats=cfg.model.prior_stats)
        per_rank = -(-len(self.dataset) // self.dist.world)
        self.drop_last = per_rank >= cfg.batch_size
        self.steps_per_epoch = per_rank // cfg.batch_size if self.drop_last else 1
        planned = cfg.epochs * self.steps_per_epoch
        self.total_steps = min(planned, cfg.max_steps) if cfg.max_steps else planned
        self.optimizer = torch.optim.AdamW(param_groups(self.model, cfg.weight_decay), lr=cfg.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(cfg.warmup_steps, self.total_steps, cfg.min_lr_ratio))
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.step = self.epoch = self.step_in_epoch = 0
        self.best_acc, self.best_epoch = -1.0, -1

    def _target_meta(self) -> dict[str, str]:
        """What the score means, stored in every checkpoint so DPA.load and reports can say it."""
        meta = {"target": self.cfg.target}
        if self.cfg.target == "gain":
            meta["gain_scale"] = repr(self.cfg.gain_scale)
        return meta

    # -- state ---------------------------------------------------------------------------------
    def save_state(self) -> None:
        """Write ``last.safetensors`` and ``state.pt``, each atomically (write, fsync, rename).

        Ctrl-C during the save waits until both files are complete (then interrupts), so a
        checkpoint is never lost or half-written; both carry the step, so a resume can tell a
        matching pair from a pair split by a hard kill between the two renames.
        """
        if not self.dist.main:
            return
        state = {
            "step": self.step, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
            "best_acc": self.best_acc, "best_epoch": self.best_epoch,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": rng_state(), "config": self.cfg.to_dict(),
        }
        with deferred_interrupt():
            save_model(self.out / "last.safetensors", self.model, self.cfg.model,
                       {"step": str(self.step), "epoch": str(self.epoch), **self._target_meta()})
            with atomic_path(self.out / "state.pt") as tmp:
                torch.save(state, tmp)

    def load_state(self) -> None:
        """Resume from the complete checkpoint there is: weights + optimizer state, else the weights alone."""
        path, weights = self.out / "state.pt", self.out / "last.safetensors"
        if not weights.is_file():
            raise InputError(f"nothing to resume in {self.out} (last.safetensors missing)")
        meta = read_metadata(weights)
        state = torch.load(path, map_location="cpu", weights_only=False) if path.is_file() else None
        if state is None or str(state["step"]) != meta.get("step"):
            self._resume_weights_only(weights, meta, "state.pt is missing" if state is None else
                                      f"state.pt (step {state['step']}) does not match the weights")
            return
        if state["config"]["model"] != self.cfg.to_dict()["model"]:
            raise ConfigError(f"cannot resume {self.out}: the model settings differ from the saved run")
        self.model.load_state_dict(load_file(str(weights)), strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step, self.epoch, self.step_in_epoch = state["step"], state["epoch"], state["step_in_epoch"]
        self.best_acc, self.best_epoch = state["best_acc"], state["best_epoch"]
        log.info("resumed %s at step %d (epoch %d)", self.out, self.step, self.epoch)

    def _resume_weights_only(self, weights: Path, meta: dict[str, str], why: str) -> None:
        """Continue from ``last.safetensors`` alone: its step, a fresh optimizer, the schedule at that step."""
        if json.loads(meta["model_config"]) != json.loads(self.cfg.model.to_json()):
            raise ConfigError(f"cannot resume {self.out}: the model settings differ from the saved run")
        self.model.load_state_dict(load_file(str(weights)), strict=True)
        self.step, self.epoch = int(meta["step"]), int(meta["epoch"])
        self.step_in_epoch = self.step - self.epoch * self.steps_per_epoch
        self.scheduler.last_epoch = self.step - 1
        with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()": intended, fresh optimizer
            warnings.simplefilter("ignore", UserWarning)
            self.scheduler.step()  # the learning rate of step `self.step`
        best = self.out / "best.safetensors"
        if best.is_file():
            best_meta = read_metadata(best)
            self.best_acc = float(best_meta.get("val_selected", best_meta["val_acc@0.125"]))
            self.best_epoch = int(best_meta["epoch"])
        log.warning("warning: %s: resuming %s from last.safetensors alone (step %d); the optimizer "
                    "state starts afresh", why, self.out, self.step)

    # -- loop ----------------------------------------------------------------------------------
    def _batches(self) -> DataLoader:
        self.dataset.set_epoch(self.epoch)
        order = epoch_order(len(self.dataset), self.cfg.seed, self.epoch, self.dist.rank, self.dist.world)
        order = order[self.step_in_epoch * self.cfg.batch_size:]
        return DataLoader(self.dataset, batch_size=self.cfg.batch_size, sampler=order, drop_last=self.drop_last,
                          num_workers=self.cfg.num_workers, pin_memory=self.device.type == "cuda",
                          persistent_workers=False, worker_init_fn=seed_worker,
                          generator=torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.epoch))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.net.train()
        x0 = normalise(batch["frame0"].to(self.device, non_blocking=True))
        x1 = normalise(batch["frame1"].to(self.device, non_blocking=True))
        target = batch["target"].to(self.device)
        perceptual = batch["perceptual"].to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            out = run_dpa(self.net, x0, x1, batch["stats"].to(self.device) if "stats" in batch else None)
        loss, parts = dpa_loss(out, target, perceptual, self.cfg.aux_weight, self.cfg.aux_kind)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return parts

    def validate(self) -> dict[str, float]:
        pred, attn = predict(self.model, self.val_df, self.cfg.model.view, self.device,
                             self.cfg.eval_batch_size, progress=self.progress)
        gt = normalise_label(self.val_df["label"].to_numpy(np.float64))
        metrics = compute_metrics(pred, gt)
        metrics["attn_mean"] = float(attn.mean())
        return metrics

    def _end_of_epoch(self, val_log: CsvLog | None, writer) -> dict[str, float]:
        metrics = self.validate() if self.dist.main else {}
        if self.dist.main:
            row = {"epoch": self.epoch, "step": self.step, **metrics}
            val_log.write(row)
            for k in VAL_FIELDS[2:]:
                writer.add_scalar(f"val/{k}", metrics[k], self.step)
            chosen = metrics[self.cfg.select_by]
            if math.isfinite(chosen) and chosen > self.best_acc:  # best_acc: best value of select_by
                self.best_acc, self.best_epoch = chosen, self.epoch
                save_model(self.out / "best.safetensors", self.model, self.cfg.model,
                           {"val_acc@0.125": f"{metrics['acc@0.125']:.6f}", "select_by": self.cfg.select_by,
                            "val_selected": f"{chosen:.6f}", "epoch": str(self.epoch),
                            "step": str(self.step), **self._target_meta()})
            plot_learning_curve(self.out)
            log.info("epoch %d step %d  val acc@0.125 %.4f acc@0.25 %.4f mae %.4f srcc %.3f",
                     self.epoch, self.step, metrics["acc@0.125"], metrics["acc@0.25"], metrics["mae"],
                     metrics["srcc"])
        return metrics

    def fit(self, resume: bool = False, stop_at: int | None = None) -> dict:
        """Train until ``total_steps``; ``stop_at`` interrupts early with a resumable state."""
        if not resume and (self.out / "state.pt").exists():
            raise InputError(f"{self.out} already holds a training run: pass --resume to continue it, "
                             "or choose another --out")
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            self.cfg.save(self.out / "config.yaml")
        if resume:
            self.load_state()
        writer = train_log = val_log = None
        if self.dist.main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step if resume else None)
            train_log = CsvLog(self.out / "train_log.csv", TRAIN_FIELDS, append=resume)
            val_log = CsvLog(self.out / "val_log.csv", VAL_FIELDS, append=resume)
            log.info("training %s: %d params, %d train / %d val pairs, %d steps on %s%s",
                     self.cfg.model.arch, count_params(self.model), len(self.train_df), len(self.val_df),
                     self.total_steps, self.device, " (AMP)" if self.amp else "")
        last = {}
        interrupted = False
        while self.step < self.total_steps and not interrupted:
            bar = tqdm(self._batches(), desc=f"epoch {self.epoch}", unit="step", leave=False,
                       disable=not (self.progress and self.dist.main),
                       total=self.steps_per_epoch - self.step_in_epoch)
            for batch in bar:
                lr = self.scheduler.get_last_lr()[0]  # the LR this step uses
                parts = self.train_step(batch)
                self.step += 1
                self.step_in_epoch += 1
                if self.dist.main:
                    bar.set_postfix(loss=f"{parts['total']:.4f}")
                    if self.step % self.cfg.log_every == 0 or self.step == 1:
                        train_log.write({"step": self.step, "epoch": self.epoch, "lr": lr, "loss": parts["total"],
                                         "l1": parts["l1"], "aux": parts.get("aux", "")})
                        for k, v in parts.items():
                            writer.add_scalar(f"train/{k}", v, self.step)
                        writer.add_scalar("train/lr", lr, self.step)
                if self.step >= self.total_steps or (stop_at is not None and self.step >= stop_at):
                    break
            bar.close()
            epoch_done = self.step_in_epoch >= self.steps_per_epoch
            interrupted = not epoch_done and self.step < self.total_steps
            if not interrupted:  # a full epoch, or the last step of the run
                last = self._end_of_epoch(val_log, writer)
            if epoch_done:
                self.epoch += 1
                self.step_in_epoch = 0
            self.save_state()
        if writer is not None:
            writer.close()
        summary = {"out_dir": str(self.out), "step": self.step, "epoch": self.epoch, "best_acc@0.125": self.best_acc,
                   "best_epoch": self.best_epoch, "params": count_params(self.model), "last_val": last,
                   "finished": self.step >= self.total_steps}
        if summary["finished"] and self.dist.main and not self.test_df.empty:
            summary["test"] = self.test_best()
        if self.dist.world > 1:
            dist.barrier()
        return summary

    def test_best(self) -> dict:
        """Evaluate best.safetensors on the test split into ``out/test``."""
        from dynvfi_core.dpa.factory import load_model

        model, cfg, _ = load_model(self.out / "best.safetensors", self.device)
        return evaluate(model, cfg, self.test_df, self.out / "test", self.device, self.cfg.eval_batch_size,
                        timing=False, name=cfg.arch)


def train(cfg: TrainConfig, resume: bool = False, stop_at: int | None = None, progress: bool = True) -> dict:
    """Convenience wrapper: build a :class:`Trainer` and run it."""
    return Trainer(cfg, progress=progress).fit(resume=resume, stop_at=stop_at)
