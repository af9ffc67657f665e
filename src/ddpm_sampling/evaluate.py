r"""The quality table of the trained-network chapter: each sampler at each number of steps, measured.

``python -m ddpm_sampling.evaluate`` (``make evaluate``) computes it with the measures of
:mod:`ddpm_sampling.metrics`, with its provenance, into ``evaluation.json`` in ``--out``: by default
``runs/`` in the current folder, never the installed package. An ``evaluation.json`` already
there is not replaced unless ``--force`` is given; the committed table is refreshed with
``--out src/ddpm_sampling/weights --force`` (README).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from . import _checks as check
from .commands import RUNS_DIR, fail, output_folder, read_device, refuse_replacing
from .data import training_tensors
from .devices import OnDevice, describe_device
from .files import write_text_atomic
from .metrics import (
    class_shares,
    classifier_features,
    classify,
    features_and_labels,
    frechet_distance_gaussians,
    gaussian_statistics,
    nearest_training,
    read_classifier_call,
    saturated,
)
from .models import Model
from .schedule import Schedule
from .steps import q_sample

# --- the quality table ------------------------------------------------------------------------


def quality(samples: Tensor, classifier: nn.Module, reference: tuple[Tensor, Tensor]) -> dict:
    """Frechet distance to the ``reference`` statistics (mean, covariance), class shares, saturation."""
    feats, labels = features_and_labels(classifier, samples.clamp(-1, 1))
    shares = class_shares(labels)
    return {
        "frechet": frechet_distance_gaussians(*gaussian_statistics(feats), *reference),
        "class_shares": [round(float(s), 4) for s in shares],
        "saturated": float((saturated(samples) > 0.05).double().mean()),
    }


def sample_point(
    model: Model, schedule: Schedule, sampler: str, steps: int, n: int, seed: int, clip_x0: bool = True
) -> Tensor:
    """The ``n`` samples of one point of the quality table: ``sampler`` ("DDPM", "DDIM" or "strided DDPM")
    with ``steps`` steps. The start x_T comes from ``seed`` and the fresh noise from ``seed + 1``, so
    every point of one seed starts from the same x_T."""
    from .respacing import ddim_sample, strided_ddpm_sample
    from .samplers import ddpm_sample

    check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    sampler = check.choice(sampler, "sampler", ("DDPM", "DDIM", "strided DDPM"))
    steps, n = check.count(steps, "steps"), check.count(n, "n")
    seed = check.count(seed, "seed", 0, 2**64 - 2)
    x_T = torch.randn((n, 1, 28, 28), generator=torch.Generator().manual_seed(seed))
    noise = torch.Generator().manual_seed(seed + 1)
    if sampler == "DDPM":
        if steps != schedule.T:
            raise ValueError(f"DDPM takes every step: steps = {steps} must be T = {schedule.T}")
        return ddpm_sample(model, schedule, x_T=x_T, generator=noise, clip_x0=clip_x0).x0
    if sampler == "DDIM":
        return ddim_sample(model, schedule, num_steps=steps, x_T=x_T, clip_x0=clip_x0).x0
    if sampler == "strided DDPM":
        return strided_ddpm_sample(model, schedule, num_steps=steps, x_T=x_T, generator=noise, clip_x0=clip_x0).x0
    raise ValueError(f"sampler = {sampler!r} is not one of ('DDPM', 'DDIM', 'strided DDPM')")


@torch.no_grad()
def what_survives(
    model: Model,
    schedule: Schedule,
    classifier: nn.Module,
    images: Tensor,
    start_t: int,
    seed: int,
) -> dict:
    """Noise ``images`` to ``start_t``, sample back down with 1,000-step DDPM (clipped), and compare.

    Returns the share of results that the classifier puts in the class it gives the original,
    and the median RMS distance between each result and its original.
    """
    from .samplers import ddpm_sample

    check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    read_classifier_call(classifier, images)
    start_t = check.count(start_t, "start_t", 1, schedule.T)
    g = torch.Generator().manual_seed(check.count(seed, "seed", 0, 2**64 - 1))
    x_t = q_sample(images, start_t, torch.randn(images.shape, generator=g), schedule)
    x0, _ = ddpm_sample(model, schedule, x_T=x_t, start_t=start_t, generator=g, clip_x0=True)
    same = classify(classifier, x0) == classify(classifier, images)
    return {
        "start_t": start_t,
        "same_class": float(same.double().mean()),
        "rms_median": float((x0 - images).double().pow(2).flatten(1).mean(1).sqrt().median()),
    }


def test_reference(classifier: nn.Module) -> tuple[Tensor, Tensor]:
    """Mean and covariance of the classifier features of the 10,000 test images."""
    images, _ = training_tensors(train=False)
    return gaussian_statistics(classifier_features(classifier, images))


def evaluation_path(folder: Path | None = None) -> Path:
    from .pretrained import WEIGHTS_DIR

    return (WEIGHTS_DIR if folder is None else check.folder(folder, "folder")) / "evaluation.json"


def load_evaluation(folder: Path | None = None) -> dict:
    """The committed quality table (``make evaluate``), as a dict; :class:`~ddpm_sampling.WeightsError`
    if it is missing, not a readable JSON object, or a folder."""
    from .pretrained import WeightsError

    path = evaluation_path(folder)
    remedy = "restore it with `git checkout -- src/ddpm_sampling/weights/` or make it again with `make evaluate`"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError(f"the quality table {path} cannot be read ({type(err).__name__}: {err}); {remedy}") from err
    if not isinstance(table, dict):
        raise WeightsError(f"the quality table {path} holds a JSON {type(table).__name__}, not an object; {remedy}")
    return table


def evaluate(
    n: int,
    steps: list[int],
    seed: int,
    log: Callable[[str], None],
    weights: Path | None = None,
    n_unclipped: int = 1000,
    n_survive: int = 256,
    survive_from: tuple[int, ...] = (100, 200, 300, 400, 500, 600, 700, 800, 900),
    device: str = "cpu",
) -> dict:
    """Compute the quality table: the real-data baseline, every sampler point (see :func:`sample_point`;
    ``n`` samples each, ``n_unclipped`` for DDPM without clipping, whose only figure is the
    share that saturates) and, for ``n_survive`` test images, what survives of them from each
    start in ``survive_from`` (see :func:`what_survives`). The U-Net runs on ``device``; the
    samplers, the classifier and every random draw stay on the CPU (see :class:`OnDevice`)."""
    from .pretrained import load_classifier, load_pretrained, training_record
    from .schedule import cosine_schedule

    n, seed = check.count(n, "n", 2), check.count(seed, "seed", 0, 2**64 - 2)
    # the survival curve takes its images from the n test images of the baseline
    n_survive, n_unclipped = check.count(n_survive, "n_survive", 1, n), check.count(n_unclipped, "n_unclipped", 2)
    steps = check.timesteps(steps, 1, 1000, "steps")
    survive_from = check.timesteps(survive_from, 1, 1000, "survive_from")
    if not callable(log):
        raise TypeError(f"log must be callable as log(message), got {check.describe(log)}")
    t_start = time.perf_counter()
    model, classifier, schedule = load_pretrained(weights), load_classifier(weights), cosine_schedule()
    if torch.device(device).type != "cpu":
        model = OnDevice(model, device)
    reference = test_reference(classifier)
    train_images, _ = training_tensors(train=True)
    test_images, _ = training_tensors(train=False)
    pick = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(seed))[:n]
    test_pick = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(seed))[:n]
    _, test_nearest = nearest_training(test_images[test_pick], train_images)
    baseline = {**quality(train_images[pick], classifier, reference), "nearest_median": float(test_nearest.median())}
    log(f"baseline: Frechet {baseline['frechet']:.3f}")
    points = []
    plan = [("DDPM", schedule.T, True), ("DDPM", schedule.T, False)]
    plan += [(name, s, True) for name in ("DDIM", "strided DDPM") for s in steps]
    for sampler, s, clip in plan:
        t0 = time.perf_counter()
        size = n if clip else n_unclipped
        x0 = sample_point(model, schedule, sampler, s, size, seed, clip_x0=clip)
        point = {"sampler": sampler, "steps": s, "clip_x0": clip, "n": size, **quality(x0, classifier, reference)}
        if sampler == "DDPM" and clip:
            point["nearest_median"] = float(nearest_training(x0, train_images)[1].median())
        point["seconds"] = round(time.perf_counter() - t0, 1)
        points.append(point)
        log(f"{sampler} {s} steps, clip {clip}: Frechet {point['frechet']:.3f} ({point['seconds']:.0f} s)")
    survival = []
    for start_t in survive_from:
        t0 = time.perf_counter()
        survival.append(what_survives(model, schedule, classifier, test_images[test_pick[:n_survive]], start_t, seed))
        log(f"from t = {start_t}: {survival[-1]['same_class']:.2f} keep their class ({time.perf_counter() - t0:.0f} s)")
    return {
        "command": "python -m ddpm_sampling.evaluate " + " ".join(sys.argv[1:]),
        "n": n,
        "n_survive": n_survive,
        "seed": seed,
        "steps": steps,
        "reference": "the 10,000 test images",
        "baseline": "n training images (seeded choice) against the test images; nearest_median: n test images",
        "weights_sha256": {name: training_record(name, weights)["sha256"] for name in ("unet", "classifier")},
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": describe_device(device),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_time_s": round(time.perf_counter() - t_start, 1),
        "real_data": baseline,
        "points": points,
        "survival": survival,
    }


def main(argv: list[str] | None = None) -> None:
    from .pretrained import WeightsError

    parser = argparse.ArgumentParser(prog="python -m ddpm_sampling.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="samples per point, at least 2 (default 1000)")
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 5, 10, 20, 50, 100, 200, 500])
    parser.add_argument("--n-unclipped", type=int, default=1000, help="samples of DDPM without clipping, at least 2")
    parser.add_argument("--n-survive", type=int, default=256, help="test images per start of the survival curve, 1..n")
    parser.add_argument("--seed", type=int, default=0, help="0..2**64 - 2")
    parser.add_argument("--weights", type=Path, help="folder of the networks (default: the package's weights/)")
    parser.add_argument("--out", type=Path, default=RUNS_DIR, help=f"folder of the JSON (default: ./{RUNS_DIR})")
    parser.add_argument("--force", action="store_true", help="replace an evaluation.json already in --out")
    parser.add_argument("--device", default="cpu", help="where the U-Net runs, e.g. cuda (default cpu)")
    args = parser.parse_args(argv)
    # every argument and the output file are checked here, before any work
    try:
        check.count(args.n, "--n", 2)
        check.timesteps(args.steps, 1, 1000, "--steps")
        check.count(args.n_unclipped, "--n-unclipped", 2)
        check.count(args.n_survive, "--n-survive", 1, args.n)  # taken from the --n test images
        check.count(args.seed, "--seed", 0, 2**64 - 2)
        device = read_device(args.device)
        if args.weights is not None:
            check.folder(args.weights, "--weights")
        path = evaluation_path(output_folder(args.out, "--out"))
        if not args.force:
            refuse_replacing([path])
    except (TypeError, ValueError, FileExistsError) as err:
        fail(parser, str(err))
    if torch.device(device).type == "cuda":
        # full float32 matmuls and convolutions, so that a GPU's table matches a CPU's to rounding
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        table = evaluate(
            args.n,
            args.steps,
            args.seed,
            lambda msg: print(msg, file=sys.stderr, flush=True),
            args.weights,
            args.n_unclipped,
            args.n_survive,
            device=device,
        )
    except WeightsError as err:
        fail(parser, f"--weights: {err}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_text_atomic(json.dumps(table, indent=1) + "\n", path, overwrite=args.force)
    except FileExistsError as err:
        fail(parser, str(err))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
