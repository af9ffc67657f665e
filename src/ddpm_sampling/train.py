"""How the book's two networks are made: the noise-predicting U-Net and the Fashion-MNIST classifier.

    python -m ddpm_sampling.train                       # both, with the recipes below (`make train`)
    python -m ddpm_sampling.train unet --steps 200      # a short run of one of them
    python -m ddpm_sampling.train unet --resume         # continue from the last checkpoint

The weights and records go to ``--out``, by default ``runs/`` in the current folder: never into
the installed package. A file already there is not replaced unless ``--force`` is given, and a
fresh run does not write over a checkpoint that ``--resume`` could continue. Refreshing the
shipped weights is a deliberate step: ``--out src/ddpm_sampling/weights --force`` (README).

The U-Net's recipe is DDPM's (Ho et al. 2020, Algorithm 1) on the book's cosine schedule:
draw a training image, a timestep t uniform in 1..T and noise eps, and regress the noise
with the mean squared error. AdamW with a short warm-up and a cosine decay; the weights
that are shipped are an exponential moving average (EMA) of the trained ones.

Every random draw goes through one seeded ``torch.Generator``. A checkpoint (written whole,
atomically) holds the networks, the optimiser, the generator's state and the loss so far,
so ``--resume`` continues where a run stopped. At the end the weights are written next to a
training record (JSON): recipe, seed, steps, wall time, device, versions, the loss every
``log_every`` steps and the SHA-256 of the weights file, which :func:`~ddpm_sampling.load_pretrained` checks.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import _checks as check
from .classifier import Classifier
from .commands import RUNS_DIR, fail, output_folder, read_device, refuse_replacing
from .data import training_tensors
from .devices import device_name
from .files import save_atomic, sha256, write_text_atomic
from .schedule import Schedule, cosine_schedule
from .steps import _q_sample
from .unet import UNet, UNetConfig

#: Where checkpoints of a run in progress are kept (not shipped).
CHECKPOINT_DIR = Path("checkpoints")


@dataclass(frozen=True)
class Recipe:
    """One training run, whole: what ``make train`` runs, and what the training record keeps."""

    steps: int
    batch_size: int = 128
    lr: float = 2e-3  # peak learning rate, reached after ``warmup`` steps, then a cosine decay
    warmup: int = 200
    final_lr_fraction: float = 0.05  # the learning rate at the last step, as a fraction of ``lr``
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # largest gradient norm
    ema_decay: float = 0.999  # 0 turns the EMA off (the classifier)
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 500


#: The recipes of the shipped networks. The U-Net's 13,000 steps of 256 images took 4.2 minutes
#: on one GPU (its training record says which); on a 2-core CPU they take most of a day.
RECIPES = {
    "unet": Recipe(steps=13_000, batch_size=256),
    "classifier": Recipe(steps=2000, lr=2e-3, weight_decay=0.05, ema_decay=0.0, seed=1),
}


# --- losses -----------------------------------------------------------------------------------


def diffusion_loss(model: nn.Module, x0: Tensor, schedule: Schedule, generator: torch.Generator) -> Tensor:
    r"""DDPM's simple loss (Algorithm 1): :math:`\lVert \epsilon - \epsilon_\theta(x_t, t)\rVert^2`, t ~ U{1..T}.

    Args:
        x0: a batch of clean images, (B, C, H, W) in [-1, 1].
        generator: draws t and the noise (on the CPU; moved to ``x0``'s device).
    """
    t = torch.randint(1, schedule.T + 1, (x0.shape[0],), generator=generator)  # (B,)
    eps = torch.randn(x0.shape, generator=generator).to(x0.device)  # (B, C, H, W)
    x_t = _q_sample(x0, t, eps, schedule)  # coefficients looked up on the CPU, moved to x0's device
    return F.mse_loss(model(x_t, t.to(x0.device)), eps)


def classifier_loss(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Cross-entropy of the class predictions, with the images shifted by up to 2 pixels (augmentation)."""
    x, y = batch
    shift = torch.randint(-2, 3, (2,), generator=generator).tolist()
    x = torch.roll(x, shifts=shift, dims=(2, 3))
    return F.cross_entropy(model(x), y)


# --- the loop ---------------------------------------------------------------------------------


def learning_rate(step: int, recipe: Recipe) -> float:
    """Linear warm-up to ``recipe.lr``, then a cosine decay to ``final_lr_fraction`` of it."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    low = recipe.final_lr_fraction
    return recipe.lr * (low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress)))


#: What a checkpoint holds (:meth:`Run.state`).
STATE_KEYS = frozenset({"name", "recipe", "model", "ema", "opt", "generator", "step", "losses", "seconds"})


class Run:
    """The state of a training run: network, EMA copy, optimiser, generator, step and loss log."""

    def __init__(self, name: str, model: nn.Module, recipe: Recipe, device: str = "cpu"):
        self.name, self.recipe, self.device = name, recipe, device
        self.model = model.to(device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if recipe.ema_decay > 0 else None
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        self.generator = torch.Generator().manual_seed(recipe.seed)
        self.step = 0
        self.losses: list[tuple[int, float]] = []  # (step, mean loss over the last log_every steps)
        self.seconds = 0.0  # training time so far, over all resumed pieces

    def shipped(self) -> nn.Module:
        """The network whose weights are shipped: the EMA copy if there is one."""
        return self.ema if self.ema is not None else self.model

    @torch.no_grad()
    def update_ema(self) -> None:
        # the decay grows from 0.1 towards ema_decay so that the first steps are not averaged
        # with the random initialisation for a thousand steps
        decay = min(self.recipe.ema_decay, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), self.model.parameters()):
            e.lerp_(p, 1 - decay)

    def state(self) -> dict:
        return {
            "name": self.name,
            "recipe": asdict(self.recipe),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "opt": self.opt.state_dict(),
            "generator": self.generator.get_state(),
            "step": self.step,
            "losses": self.losses,
            "seconds": self.seconds,
        }

    def load_state(self, state: dict) -> None:
        """Continue from ``state`` (see :meth:`state`); ``ValueError`` if it is incomplete or of another run."""
        if not isinstance(state, dict) or not state.keys() >= STATE_KEYS:
            found = sorted(map(str, state)) if isinstance(state, dict) else check.describe(state)
            raise ValueError(f"the checkpoint is incomplete: it needs {sorted(STATE_KEYS)}, it holds {found}")
        if state["name"] != self.name or state["recipe"] != asdict(self.recipe):
            raise ValueError(
                f"the checkpoint is of {state['name']!r} with recipe {state['recipe']}; "
                f"this run is {self.name!r} with {asdict(self.recipe)}: resume with the same options"
            )
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.generator.set_state(state["generator"])
        self.step, self.losses, self.seconds = state["step"], [tuple(x) for x in state["losses"]], state["seconds"]


def train(
    run: Run,
    loss_fn: Callable[[], Tensor],
    *,
    checkpoint: Path | None = None,
    on_step: Callable[[Run, float], None] | None = None,
    until: int | None = None,
) -> Run:
    """Train ``run`` from its current step up to ``run.recipe.steps`` (or stop early at step ``until``).

    Args:
        loss_fn: computes the loss of one fresh batch (drawing from ``run.generator``).
        checkpoint: where to write the run's whole state every ``checkpoint_every`` steps
            and at the end (atomically: a crash leaves the previous checkpoint whole).
        on_step: called after every step with the run and that step's loss (progress display).
    """
    recipe, interval = run.recipe, []
    until = recipe.steps if until is None else min(until, recipe.steps)
    run.model.train()
    start = time.perf_counter() - run.seconds
    while run.step < until:
        for group in run.opt.param_groups:
            group["lr"] = learning_rate(run.step, recipe)
        loss = loss_fn()
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(run.model.parameters(), recipe.grad_clip)
        run.opt.step()
        run.step += 1
        if run.ema is not None:
            run.update_ema()
        interval.append(loss.item())
        if run.step % recipe.log_every == 0 or run.step == recipe.steps:
            run.losses.append((run.step, sum(interval) / len(interval)))
            interval = []
        run.seconds = time.perf_counter() - start
        if on_step is not None:
            on_step(run, loss.item())
        if checkpoint is not None and (run.step % recipe.checkpoint_every == 0 or run.step == until):
            save_atomic(run.state(), checkpoint)
    run.model.eval()
    return run


def export(run: Run, config: dict, out_dir: Path, extra: dict | None = None, *, overwrite: bool = False) -> Path:
    """Write the shipped weights (``<name>.pt``) and the training record (``<name>.json``) to ``out_dir``.

    Neither file is replaced if it exists, unless ``overwrite`` (``FileExistsError``, before anything is written).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    weights, record_path = out_dir / f"{run.name}.pt", out_dir / f"{run.name}.json"
    if not overwrite:
        refuse_replacing([weights, record_path])
    state = {k: v.detach().cpu().contiguous() for k, v in run.shipped().state_dict().items()}
    save_atomic({"config": config, "state_dict": state}, weights, overwrite=overwrite)
    record = {
        "network": run.name,
        "config": config,
        "parameters": sum(v.numel() for v in state.values()),
        "recipe": asdict(run.recipe),
        "seed": run.recipe.seed,
        "steps": run.step,
        "wall_time_s": round(run.seconds, 1),
        "device": device_name(run.device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loss": [[s, round(v, 6)] for s, v in run.losses],
        **(extra or {}),
        "sha256": sha256(weights),
    }
    write_text_atomic(json.dumps(record, indent=1) + "\n", record_path, overwrite=overwrite)
    return weights


# --- the two networks -------------------------------------------------------------------------


def batch_of(images: Tensor, labels: Tensor, size: int, generator: torch.Generator, device: str):
    index = torch.randint(len(images), (size,), generator=generator)
    return images[index].to(device), labels[index].to(device)


def unet_run(recipe: Recipe, device: str) -> tuple[Run, Callable[[], Tensor], dict]:
    config = UNetConfig()
    torch.manual_seed(recipe.seed)  # the initial weights; every later draw uses the run's generator
    # channels-last memory makes the convolutions about a fifth faster on a CPU
    run = Run("unet", UNet(config).to(memory_format=torch.channels_last), recipe, device)
    images, labels = training_tensors()
    schedule = cosine_schedule()

    def loss_fn() -> Tensor:
        x0, _ = batch_of(images, labels, recipe.batch_size, run.generator, device)
        return diffusion_loss(run.model, x0.contiguous(memory_format=torch.channels_last), schedule, run.generator)

    return run, loss_fn, config.to_dict()


def classifier_run(recipe: Recipe, device: str) -> tuple[Run, Callable[[], Tensor], dict]:
    torch.manual_seed(recipe.seed)
    model = Classifier()
    run = Run("classifier", model, recipe, device)
    images, labels = training_tensors()

    def loss_fn() -> Tensor:
        return classifier_loss(
            run.model, batch_of(images, labels, recipe.batch_size, run.generator, device), run.generator
        )

    return run, loss_fn, model.config()


@torch.inference_mode()
def test_accuracy(model: nn.Module, device: str = "cpu") -> float:
    images, labels = training_tensors(train=False)
    model.eval()
    right = sum(
        int((model(x.to(device)).argmax(1).cpu() == y).sum()) for x, y in zip(images.split(1000), labels.split(1000))
    )
    return right / len(labels)


# --- the command ------------------------------------------------------------------------------


def progress(run: Run, loss: float) -> None:
    """One line on the terminal, rewritten in place: step, loss, speed, time left."""
    r = run.recipe
    rate = run.step / max(run.seconds, 1e-9)
    left = (r.steps - run.step) / max(rate, 1e-9)
    bar = "#" * int(30 * run.step / r.steps)
    end = "\n" if run.step == r.steps else ""
    print(
        f"\r{run.name} [{bar:<30}] {run.step}/{r.steps}  loss {loss:.4f}  {rate:.2f} steps/s  "
        f"{left / 60:5.1f} min left",
        end=end,
        file=sys.stderr,
        flush=True,
    )


def load_checkpoint(path: Path, device: str) -> dict:
    """A checkpoint's state, read whole; ``ValueError`` naming the file for an empty, damaged or partial one."""
    remedy = "delete it and train again without --resume"
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # a damaged file fails in many ways inside torch.load
        raise ValueError(f"the checkpoint {path} cannot be read ({type(err).__name__}): {remedy}") from err
    if not isinstance(state, dict) or not state.keys() >= STATE_KEYS:
        raise ValueError(f"the checkpoint {path} is incomplete (not a whole run's state): {remedy}")
    return state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ddpm_sampling.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("networks", nargs="*", choices=["unet", "classifier"], default=[], help="default: both")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--steps", type=int, help="train for this many steps instead of the recipe's")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int, help="0..2**64 - 1 (default: the recipe's)")
    parser.add_argument("--threads", type=int, help="torch threads on the CPU, at least 1")
    parser.add_argument(
        "--out", type=Path, default=RUNS_DIR, help=f"folder of the weights and records (default: ./{RUNS_DIR})"
    )
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--resume", action="store_true", help="continue from the network's checkpoint")
    parser.add_argument("--force", action="store_true", help="replace weights, records or a checkpoint already there")
    args = parser.parse_args(argv)
    names = args.networks or ["unet", "classifier"]
    # every argument and every file is checked here, before any work
    try:
        if len(set(names)) != len(names):
            raise ValueError(f"networks = {names} names one network twice; name each at most once")
        device = read_device(args.device)
        threads = None if args.threads is None else check.count(args.threads, "--threads", 1)
        changes = {
            key: check.count(value, f"--{key.replace('_', '-')}", *((0, 2**64 - 1) if key == "seed" else (1,)))
            for key, value in (("steps", args.steps), ("batch_size", args.batch_size), ("seed", args.seed))
            if value is not None
        }
        out, checkpoints = output_folder(args.out, "--out"), output_folder(args.checkpoints, "--checkpoints")
        states = {}
        for name in names:
            if not args.force:
                refuse_replacing([out / f"{name}.pt", out / f"{name}.json"])
            checkpoint = checkpoints / f"{name}.ckpt"
            if args.resume:
                if not checkpoint.is_file():
                    raise ValueError(f"--resume: no checkpoint at {checkpoint}")
                states[name] = load_checkpoint(checkpoint, device)
            elif not args.force:
                refuse_replacing([checkpoint], "continue it with --resume, or give --force to start afresh")
    except (TypeError, ValueError, FileExistsError) as err:
        fail(parser, str(err))
    if threads is not None:
        torch.set_num_threads(threads)
    for name in names:
        recipe = replace(RECIPES[name], **changes)
        run, loss_fn, config = (unet_run if name == "unet" else classifier_run)(recipe, device)
        checkpoint = checkpoints / f"{name}.ckpt"
        if args.resume:
            try:
                run.load_state(states.pop(name))
            except (ValueError, RuntimeError, KeyError, TypeError) as err:
                fail(parser, f"--resume: the checkpoint {checkpoint} does not fit this run: {err}".splitlines()[0])
            print(f"{name}: resuming at step {run.step} of {recipe.steps}", file=sys.stderr)
        train(run, loss_fn, checkpoint=checkpoint, on_step=progress)
        extra = {"test_accuracy": round(test_accuracy(run.model, device), 4)} if name == "classifier" else {}
        try:
            path = export(run, config, out, extra, overwrite=args.force)
        except FileExistsError as err:  # made by someone else while this run trained; the checkpoint keeps it
            fail(parser, f"{err}; the trained run is in {checkpoint}")
        print(f"{name}: wrote {path} and its training record ({run.seconds / 60:.1f} min)", file=sys.stderr)


if __name__ == "__main__":
    main()
