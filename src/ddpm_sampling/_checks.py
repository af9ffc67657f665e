"""One way to read each kind of argument.

Every public function reads its arguments here, once, in one block at its entry, and then computes.
A sampler reads its model as a :func:`model` whose every prediction is looked at (its type, shape,
dtype and device: never a scan of its values), so that checking costs nothing else per step.

Each reader takes the value and the argument's name and returns the value in the one form the
package computes with (a Python ``int`` or ``float``, a long tensor of timesteps), or raises

- ``TypeError`` when the value is of the wrong kind, saying which kind is needed, or
- ``ValueError`` when it is of the right kind but outside its valid range, giving the range.

Either message names the argument. The kinds:

- an integer (a count, a seed, a timestep): a Python ``int``, a NumPy integer or a 0-d tensor of a
  signed integer dtype. Never a ``bool``, and never a float, not even ``5.0``.
- a timestep may also be a (B,) tensor of a signed integer dtype, one timestep per image; a ``bool``
  or ``uint8`` tensor is refused, since PyTorch indexing takes those as masks.
- a real number (a probability, a standard deviation): a Python ``int`` or ``float``, a NumPy number
  (``np.float32`` and ``np.float64`` alike) or a 0-d tensor of a real dtype; never a ``bool``.
- a flag: ``True`` or ``False`` (a NumPy bool too); never a truthy number, string or tensor.
- a folder: a ``str`` or ``os.PathLike`` of str, neither empty nor holding a NUL character.
- an image: a floating-point tensor (C, H, W) or (B, C, H, W), no dimension empty, every value finite.

This module knows no type of the package: :func:`instance` reads a value of any given class.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch import Tensor

#: The tensor dtypes a timestep or other integer may have: bool and uint8 index as masks.
SIGNED_INTEGERS = (torch.int8, torch.int16, torch.int32, torch.int64)

Kind = TypeVar("Kind")


def describe(value: object) -> str:
    """A short description of ``value`` for an error message: its value and type, or a tensor's dtype and shape."""
    if isinstance(value, Tensor):
        return f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _valid_range(low: int, high: int | None) -> str:
    return f"the valid range: an int >= {low}" if high is None else f"the valid range {low}..{high}"


# --- integers ---------------------------------------------------------------------------------


def integer(value: object, name: str) -> int:
    """``value`` as a Python int: an int, a NumPy integer or a 0-d signed integer tensor; else ``TypeError``."""
    if type(value) is int:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, Tensor) and value.dim() == 0 and value.dtype in SIGNED_INTEGERS:
        return int(value)
    raise TypeError(f"{name} must be an int, got {describe(value)}")


def count(value: object, name: str, low: int = 1, high: int | None = None) -> int:
    """An integer in ``low..high`` (no upper bound if ``high`` is None): a number of steps, a size, a seed."""
    n = integer(value, name)
    if n < low or (high is not None and n > high):
        raise ValueError(f"{name} = {n} is outside {_valid_range(low, high)}")
    return n


def timestep(t: object, low: int, high: int | None, name: str = "t", *, batch_of: Tensor | None = None) -> int | Tensor:
    """A timestep in ``low..high``: returned as an int, or as a (B,) long tensor for one timestep per image.

    Accepts a Python int, a NumPy integer, or a tensor of a signed integer dtype of shape () or (B,).
    A 0-d tensor becomes an int. ``high=None`` sets no upper bound. With ``batch_of``, a (B,) tensor
    must give one timestep to each image of that batch (:func:`batch_timestep`).
    """
    if type(t) is int:  # the common case: one comparison
        if low <= t and (high is None or t <= high):
            return t
        raise ValueError(f"{name} = {t} is outside {_valid_range(low, high)}")
    if not isinstance(t, Tensor):
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            return timestep(int(t), low, high, name)
        raise TypeError(
            f"{name} must be an int or an integer tensor of shape () or (B,), got {describe(t)}"
            + ("; convert it with torch.as_tensor" if type(t).__module__ == "numpy" else "")
        )
    if t.dtype not in SIGNED_INTEGERS:
        mask = (
            " (PyTorch indexing takes a bool or uint8 tensor as a mask)" if t.dtype in (torch.bool, torch.uint8) else ""
        )
        raise TypeError(f"{name} must hold integers of a signed dtype such as torch.int64, got dtype {t.dtype}{mask}")
    if t.dim() > 1:
        raise ValueError(f"{name} must be an int, a 0-d or a 1-d tensor, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty; it must hold at least one timestep")
    if t.dim() == 0:
        return timestep(int(t), low, high, name)
    t = t.to(torch.long)
    outside = t < low if high is None else (t < low) | (t > high)
    if bool(outside.any()):
        raise ValueError(f"{name} = {int(t[outside][0])} is outside {_valid_range(low, high)}")
    if batch_of is not None:
        batch_timestep(t, batch_of, name)
    return t


def timesteps(values: object, low: int, high: int, name: str) -> list[int]:
    """An iterable of int timesteps in ``low..high`` (a list, a range or a 1-d integer tensor), as a list."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be an iterable of int timesteps, got {describe(values)}")
    if getattr(values, "ndim", 1) != 1:  # a tensor or a NumPy array
        raise ValueError(f"{name} must be a 1-d tensor of timesteps, got shape {tuple(values.shape)}")
    if isinstance(values, Tensor):
        values = list(values)
    return [timestep(t, low, high, f"{name}[{i}]") for i, t in enumerate(values)]


def batch_timestep(t: int | Tensor, x: Tensor, name: str = "t") -> None:
    """A 1-d ``t`` gives one timestep per image, so it needs a batch (B, C, H, W) of its length."""
    if isinstance(t, Tensor) and t.dim() == 1 and (x.dim() != 4 or t.shape[0] != x.shape[0]):
        raise ValueError(
            f"{name} has {t.shape[0]} timesteps but x has shape {tuple(x.shape)}; a 1-d {name} "
            "needs a batch (B, C, H, W) with B equal to its length"
        )


# --- real numbers -----------------------------------------------------------------------------


def real(value: object, name: str) -> float:
    """``value`` as a Python float: an int, a float, a NumPy number or a 0-d real tensor; else ``TypeError``."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if (
        isinstance(value, Tensor)
        and value.dim() == 0
        and (value.dtype.is_floating_point or value.dtype in SIGNED_INTEGERS)
    ):
        return float(value)
    raise TypeError(f"{name} must be a real number (an int or a float), got {describe(value)}")


def _shown(value: object, x: float) -> str:
    return repr(value) if type(value) in (int, float) else repr(x)


def number(
    value: object,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    meaning: str = "",
) -> float:
    """A finite real number in the interval from ``low`` to ``high``, each end open or closed."""
    x = real(value, name)
    inside = math.isfinite(x) and (low < x if low_open else low <= x) and (x < high if high_open else x <= high)
    if not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} = {_shown(value, x)} is outside the valid range {interval}{meaning}")
    return x


def std(value: object, name: str, meaning: str = ": it is a standard deviation") -> float:
    """A standard deviation or a noise level: finite and >= 0."""
    return number(value, name, 0, math.inf, high_open=True, meaning=meaning)


def positive(value: object, name: str, meaning: str = "") -> float:
    """A finite real number > 0."""
    return number(value, name, 0, math.inf, low_open=True, high_open=True, meaning=meaning)


def fraction(value: object, name: str, meaning: str = "") -> float:
    """A probability or fraction in (0, 1]."""
    return number(value, name, 0, 1, low_open=True, meaning=meaning)


# --- flags and choices ------------------------------------------------------------------------


def flag(value: object, name: str) -> bool:
    """``True`` or ``False`` (or a NumPy bool); a truthy tensor or string is a mistake, not a yes (``TypeError``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def folder(value: object, name: str) -> Path:
    """A folder path: a ``str`` or ``os.PathLike`` of str, not empty and without a NUL character."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder as a str or os.PathLike, got {describe(value)}")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise TypeError(f"{name} must be a folder as a str or os.PathLike of str, got bytes {path!r}")
    if path == "" or "\0" in path:
        raise ValueError(f"{name} = {path!r} is not a folder path: it is empty or holds a NUL character")
    return Path(path)


def choice(value: object, name: str, options: Sequence[str]) -> str:
    """One of the strings ``options`` (``ValueError`` otherwise, naming them)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} = {value!r} is not one of {tuple(options)}")
    return value


def model(value: object, name: str = "model") -> Callable[[Tensor, int | Tensor], Tensor]:
    """A model: anything callable as ``model(x_t, t) -> eps``.

    Returned wrapped, so that each call's prediction is read as :func:`prediction` reads it and an
    exception of the model's own passes through unchanged, with a note of the step.
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable as {name}(x_t, t) -> eps, got {describe(value)}")

    def read_model(x_t: Tensor, t: int | Tensor) -> Tensor:
        try:
            eps = value(x_t, t)
        except Exception as err:
            err.add_note(f"(raised by the model, called at t = {t})")
            raise
        prediction(x_t, t, eps)
        return eps

    return read_model


def instance(value: object, kind: type[Kind], name: str, made_by: str = "") -> Kind:
    """``value`` if it is a ``kind`` (a class); else a ``TypeError`` naming the class and what makes one."""
    if not isinstance(value, kind):
        # the package's own classes by their name, others by their library's too (torch.Generator)
        library = kind.__module__.split(".")[0]
        kind_name = kind.__name__ if library in ("ddpm_sampling", "builtins") else f"{library}.{kind.__name__}"
        article = "an" if kind_name[0] in "AEIOU" else "a"
        made = f" (from {made_by})" if made_by else ""
        raise TypeError(f"{name} must be {article} {kind_name}{made}, got {describe(value)}")
    return value


# --- tensors and images -----------------------------------------------------------------------


def tensor(x: object, name: str) -> Tensor:
    """A tensor of a floating-point dtype (``TypeError`` otherwise)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(x)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.device.type == "meta":
        raise ValueError(f"{name} is on the meta device, which holds no values; give a tensor on the cpu or a GPU")
    return x


def finite(x: object, name: str) -> Tensor:
    """A floating-point tensor of finite values."""
    tensor(x, name)
    if not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} holds {n_bad} non-finite value(s) (NaN or inf); every value must be finite")
    return x


def image(x: object, name: str, *, scan: bool = True) -> Tensor:
    """A floating tensor (C, H, W) or (B, C, H, W) with no empty dimension, of finite values.

    ``scan=False`` skips the look at every value (for a network's forward pass, which a sampler
    calls at every step and whose non-finite output the sampler reports at its end).
    """
    tensor(x, name)
    if x.dim() not in (3, 4):
        raise ValueError(f"{name} must have shape (C, H, W) or (B, C, H, W), got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; every dimension must be at least 1")
    return finite(x, name) if scan else x


def images(**named: object) -> None:
    """Images of one shape on one device, each read as :func:`image` reads it, e.g. ``images(x_t=x_t, eps=eps)``."""
    (first, x), *others = named.items()
    image(x, first)
    for name, other in others:
        image(other, name)
        same_shape(x, other, first, name)


def same_shape(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """``a`` and ``b`` have the same shape and live on the same device."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.device != b.device:
        raise ValueError(f"{name_a} and {name_b} must be on the same device, got {a.device} and {b.device}")


def shape(value: object, name: str = "shape") -> tuple[int, ...]:
    """An image shape (C, H, W) or (B, C, H, W) of positive ints, as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a tuple of ints (C, H, W) or (B, C, H, W), got {describe(value)}")
    dims = tuple(integer(n, f"{name}[{i}]") for i, n in enumerate(value))
    if len(dims) not in (3, 4) or min(dims) < 1:
        raise ValueError(f"{name} = {dims} must be (C, H, W) or (B, C, H, W) with positive ints")
    return dims


def generator(gen: object, shape: Sequence[int], name: str = "generator") -> None:
    """``None``, a ``torch.Generator``, or a list of them with one per image of a batch of ``shape`` (B, C, H, W)."""
    if isinstance(gen, (list, tuple)):
        for i, g in enumerate(gen):
            if not isinstance(g, torch.Generator):
                raise TypeError(f"{name}[{i}] must be a torch.Generator, got {describe(g)}")
        if len(shape) != 4 or len(gen) != shape[0]:
            raise ValueError(
                f"got {len(gen)} generators for x of shape {tuple(shape)}; "
                "a list needs one generator per image of a (B, C, H, W) batch"
            )
    elif gen is not None and not isinstance(gen, torch.Generator):
        raise TypeError(f"{name} must be a torch.Generator, a list of them or None, got {describe(gen)}")


def start(noise_shape: object, x_T: object, gen: object) -> tuple[int, ...]:
    """A sampler's start, exactly one of ``shape`` (pure noise) or ``x_T`` (a given image), and the
    ``generator`` that draws noise of its shape. Returns that shape."""
    if (noise_shape is None) == (x_T is None):
        raise ValueError("give exactly one of shape (to start from pure noise) or x_T (a given start)")
    dims = shape(noise_shape) if x_T is None else tuple(image(x_T, "x_T").shape)
    generator(gen, dims)
    return dims


# --- what comes back --------------------------------------------------------------------------


def prediction(x_t: Tensor, t: int | Tensor, eps: object) -> None:
    """A model's prediction for ``x_t``: a tensor of its shape, dtype and device. Cheap: no value is read."""
    if not isinstance(eps, Tensor):
        raise TypeError(f"the model returned {describe(eps)} at t = {t}; it must return a tensor like x_t")
    if eps.shape != x_t.shape:
        raise ValueError(
            f"the model returned {tuple(eps.shape)} at t = {t}; it must return a tensor of shape {tuple(x_t.shape)}"
        )
    if eps.dtype != x_t.dtype:
        raise TypeError(f"the model returned dtype {eps.dtype} at t = {t}; it must return x_t's dtype, {x_t.dtype}")
    if eps.device != x_t.device:
        raise ValueError(
            f"the model returned a tensor on {eps.device} at t = {t}; it must return it on x_t's, {x_t.device}"
        )


def finite_result(x: Tensor, what: str, blame: str) -> Tensor:
    """A result must be finite: non-finite values come from the inputs named in ``blame``, not from nowhere."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} holds non-finite values: {blame}")
    return x
