r"""Respacing: samplers that take fewer steps than T, strided DDPM and DDIM.

Both visit a subsequence :math:`\tau_1 < \dots < \tau_S` of 1..T, evenly spaced and ending
at T (see :func:`~ddpm_sampling.respaced_timesteps`), with :math:`\tau_0 = 0` standing for the clean image.
The model is always asked at the original timestep :math:`\tau_i`, so a model trained on
T steps needs no retraining.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from . import _checks as check
from .models import Model
from .samplers import DIVERGED, Samples, clipped_eps
from .schedule import Schedule
from .steps import VARIANCES, Generators, Variance, noise, noise_like


def respaced_timesteps(T: int, num_steps: int) -> list[int]:
    """``num_steps`` timesteps evenly spaced in 1..T, the last one T: tau_i = round(i T / S), i = 1..S.

    With ``num_steps = T`` this is every step, 1..T. Consecutive values differ by at least 1
    because the spacing T / S is at least 1.

    Args:
        T: the number of steps of the full chain, an int >= 1.
        num_steps: S, an int in 1..T.
    """
    T = check.count(T, "T")
    S = check.count(num_steps, "num_steps", 1, T)
    return [(2 * i * T + S) // (2 * S) for i in range(1, S + 1)]


def respaced_schedule(schedule: Schedule, timesteps: Sequence[int]) -> Schedule:
    r"""The schedule of the shorter chain that visits only ``timesteps`` (increasing ints in 1..T).

    Its step i goes from :math:`\tau_i` to :math:`\tau_{i-1}` and keeps the marginals of
    the original: :math:`\bar\alpha'_i = \bar\alpha_{\tau_i}`, hence
    :math:`\beta'_i = 1 - \bar\alpha_{\tau_i} / \bar\alpha_{\tau_{i-1}}` (Nichol & Dhariwal 2021, sec. 4).
    """
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    taus = check.timesteps(timesteps, 1, schedule.T, "timesteps")
    if not taus:
        raise ValueError("timesteps is empty; it must hold at least one timestep in 1..T")
    for i in range(1, len(taus)):
        if taus[i] <= taus[i - 1]:
            raise ValueError(f"timesteps must increase, but timesteps[{i}] = {taus[i]} follows {taus[i - 1]}")
    index = torch.tensor([0, *taus])
    return Schedule.from_alpha_bar(schedule.alpha_bar.to(torch.float64)[index], max_beta=None)


def _visited_timesteps(values: object, tau: list[int], name: str = "snapshot_timesteps") -> set[int]:
    """Read timesteps that a chain over ``tau`` (0 first) visits: ints in 0..T, each one of ``tau``."""
    wanted = check.timesteps(values, 0, tau[-1], name)
    for i, t in enumerate(wanted):
        if t not in tau:
            raise ValueError(
                f"{name}[{i}] = {t} is not a timestep this chain visits: with num_steps = {len(tau) - 1} "
                "it visits 0 and respaced_timesteps(T, num_steps)"
            )
    return set(wanted)


def strided_ddpm_sample(
    model: Model,
    schedule: Schedule,
    *,
    num_steps: int,
    shape: tuple[int, ...] | None = None,
    x_T: Tensor | None = None,
    snapshot_timesteps: Iterable[int] = (),
    generator: Generators = None,
    variance: Variance = "beta",
    clip_x0: bool = False,
) -> Samples:
    """DDPM ancestral sampling (Algorithm 2) over ``num_steps`` respaced steps.

    Step i of the shorter chain goes from tau_i to tau_{i-1} with the coefficients of
    :func:`~ddpm_sampling.respacing.respaced_schedule`; the model is asked at the original timestep tau_i. With
    ``num_steps = T`` it is :func:`~ddpm_sampling.ddpm_sample` (same noise, drawn in the same order).

    Args:
        model: ``model(x_t, t) -> eps``, called once per step with the original timestep.
        schedule: the T-step schedule the model was trained with.
        num_steps: S, an int in 1..T.
        shape: (C, H, W) or (B, C, H, W) to start from pure noise, or else ``x_T``.
        x_T: the start at t = T, a floating tensor of finite values; sets the dtype, not modified.
        snapshot_timesteps: timesteps the chain visits (0 and tau_1..tau_S) at which to keep a copy of x.
        generator: ``torch.Generator`` (or one per image) for x_T and each step's noise.
        variance: ``"beta"`` or ``"beta_tilde"`` of the respaced chain.
        clip_x0: clip the clean-image estimate to [-1, 1] at every step, as in :func:`~ddpm_sampling.ddpm_sample`.

    Returns:
        :class:`~ddpm_sampling.samplers.Samples` ``(x0, snapshots)``, as :func:`~ddpm_sampling.ddpm_sample` returns.
    """
    model = check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    num_steps = check.count(num_steps, "num_steps", 1, schedule.T)
    shape = check.start(shape, x_T, generator)
    tau = [0, *respaced_timesteps(schedule.T, num_steps)]  # step i goes from tau[i] to tau[i - 1]
    snapshot_at = _visited_timesteps(snapshot_timesteps, tau)
    check.choice(variance, "variance", VARIANCES)
    check.flag(clip_x0, "clip_x0")
    respaced = respaced_schedule(schedule, tau[1:])
    sigma = respaced.sigma if variance == "beta" else respaced.sigma_tilde
    scale, eps_coef, sigma = respaced.scale.tolist(), respaced.eps_coef.tolist(), sigma.tolist()

    with torch.no_grad():
        x = noise(shape, generator) if x_T is None else x_T.detach().clone()
        snapshots = {tau[-1]: x.clone()} if tau[-1] in snapshot_at else {}
        for i in range(num_steps, 0, -1):  # step i of the short chain, with its own coefficients
            t = tau[i]  # ... asks the model at the original timestep
            eps = model(x, t)
            if clip_x0:
                eps = clipped_eps(x, t, eps, schedule)
            x = scale[i] * (x - eps_coef[i] * eps)
            if i > 1:
                x = x + sigma[i] * noise_like(x, generator)
            if tau[i - 1] in snapshot_at:
                snapshots[tau[i - 1]] = x.clone()
    return Samples(check.finite_result(x, "strided_ddpm_sample's x_0", DIVERGED), snapshots)


def _ddim_max_eta(alpha_bar: Sequence[float], tau: Sequence[int]) -> float:
    r"""The largest eta for which every DDIM step over ``tau`` keeps a real direction term.

    A step's :math:`\sigma^2 = \eta^2 \sigma_1^2` must not exceed :math:`1 - \bar\alpha_\text{prev}`, where
    :math:`\sigma_1^2` is its value at eta = 1 (:math:`\tilde\beta`). Infinite when no step adds noise.
    """
    bound = math.inf
    for t, prev in zip(tau[1:], tau[:-1]):
        a_t, a_prev = alpha_bar[t], alpha_bar[prev]
        sigma1_sq = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        if sigma1_sq > 0:
            bound = min(bound, math.sqrt((1 - a_prev) / sigma1_sq))
    return bound


def ddim_sample(
    model: Model,
    schedule: Schedule,
    *,
    num_steps: int,
    eta: float = 0.0,
    shape: tuple[int, ...] | None = None,
    x_T: Tensor | None = None,
    snapshot_timesteps: Iterable[int] = (),
    generator: Generators = None,
    clip_x0: bool = False,
) -> Samples:
    r"""DDIM sampling (Song et al. 2021) over ``num_steps`` evenly spaced timesteps.

    Each step, from t = :math:`\tau_i` to prev = :math:`\tau_{i-1}`, is DDIM's eq. 12:

    .. math:: x_\text{prev} = \sqrt{\bar\alpha_\text{prev}}\,\hat x_0
              + \sqrt{1-\bar\alpha_\text{prev}-\sigma^2}\,\hat\epsilon + \sigma z,\qquad
              \sigma = \eta\sqrt{\frac{1-\bar\alpha_\text{prev}}{1-\bar\alpha_t}}
              \sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_\text{prev}}}

    ``eta = 0`` is deterministic given x_T; ``eta = 1`` with ``num_steps = T`` is DDPM with the
    posterior variance beta_tilde, and draws its noise in the same order as
    ``ddpm_sample(..., variance="beta_tilde")``: x_T first, then one z per step except the last.

    Args:
        model: ``model(x_t, t) -> eps``, called once per step with an int t.
        schedule: the T-step schedule the model was trained with.
        num_steps: S, an int in 1..T.
        eta: a finite real number >= 0 (and at most about 1 for few steps: the error names the
            bound); how much fresh noise each step adds (0: none).
        snapshot_timesteps: as in :func:`strided_ddpm_sample`.
        shape, x_T, generator, clip_x0: as in :func:`~ddpm_sampling.ddpm_sample`.

    Returns:
        :class:`~ddpm_sampling.samplers.Samples` ``(x0, snapshots)``, as :func:`~ddpm_sampling.ddpm_sample` returns.
    """
    model = check.model(model)
    check.instance(schedule, Schedule, "schedule", "cosine_schedule")
    num_steps = check.count(num_steps, "num_steps", 1, schedule.T)
    tau = [0, *respaced_timesteps(schedule.T, num_steps)]  # step i goes from tau[i] to tau[i - 1]
    alpha_bar = schedule.alpha_bar.double().tolist()  # in float64
    eta, eta_max = check.std(eta, "eta", ": it scales a standard deviation"), _ddim_max_eta(alpha_bar, tau)
    if eta > eta_max * (1 + 1e-12):
        raise ValueError(
            f"eta = {eta} is outside the valid range 0..{eta_max:.6g} for {num_steps} steps: "
            "beyond it sigma^2 exceeds 1 - alpha_bar_prev and the step has no real direction term"
        )
    check.flag(clip_x0, "clip_x0")
    shape = check.start(shape, x_T, generator)
    snapshot_at = _visited_timesteps(snapshot_timesteps, tau)
    sqrt_alpha_bar = schedule.sqrt_alpha_bar.tolist()
    sqrt_one_minus_alpha_bar = schedule.sqrt_one_minus_alpha_bar.tolist()

    with torch.no_grad():
        x = noise(shape, generator) if x_T is None else x_T.detach().clone()
        snapshots = {tau[-1]: x.clone()} if tau[-1] in snapshot_at else {}
        for i in range(num_steps, 0, -1):
            t, prev = tau[i], tau[i - 1]
            eps = model(x, t)
            if clip_x0:
                eps = clipped_eps(x, t, eps, schedule)
            # sigma^2 of DDIM eq. 16
            sigma_sq = eta * eta * ((1 - alpha_bar[prev]) / (1 - alpha_bar[t]) * (1 - alpha_bar[t] / alpha_bar[prev]))
            # 1. the clean image the model implies ("predicted x0")
            x0_hat = (x - sqrt_one_minus_alpha_bar[t] * eps) / sqrt_alpha_bar[t]
            # 2. move to prev along the predicted noise ("direction pointing to x_t"); max: rounding at the top eta
            x = math.sqrt(alpha_bar[prev]) * x0_hat + math.sqrt(max(1 - alpha_bar[prev] - sigma_sq, 0.0)) * eps
            # 3. fresh noise, only where sigma > 0 (never at the last step, where prev = 0)
            if sigma_sq > 0:
                x = x + math.sqrt(sigma_sq) * noise_like(x, generator)
            if prev in snapshot_at:
                snapshots[prev] = x.clone()
    return Samples(check.finite_result(x, "ddim_sample's x_0", DIVERGED), snapshots)
