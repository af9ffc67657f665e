"""Every public function returns a correct result or raises a clear error: the silent wrong results and
confusing errors found by hostile-but-fair testing, each by name, then Hypothesis over the plot helpers."""

from __future__ import annotations

import inspect
import json
import shutil

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddpm_sampling import WeightsError, cosine_schedule, noisy_model, plots, target_oracle, training_record
from ddpm_sampling.classifier import Classifier
from ddpm_sampling.evaluate import evaluate
from ddpm_sampling.metrics import frechet_distance_gaussians, nearest_training
from ddpm_sampling.pretrained import WEIGHTS_DIR, load_pretrained
from ddpm_sampling.schedule import Schedule

PROPERTY = settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- silent wrong results ----------------------------------------------------------------------


@pytest.mark.parametrize("mark_t", [[0, -1], [-1], [0], [51]])
def test_mark_t_outside_1_to_T_is_refused_not_read_from_the_end(mark_t):
    s = cosine_schedule(50)
    with pytest.raises(ValueError, match=r"mark_t\[\d\] = -?\d+ is outside the valid range 1..50"):
        plots.coefficient_panels(s, mark_t=mark_t)
    with pytest.raises(ValueError, match=r"mark_t\[\d\] = -?\d+ is outside the valid range 1..50"):
        plots.error_gain_plot(s, mark_t=mark_t)


def test_the_error_gain_plot_labels_each_marked_t_with_its_own_value():
    s = cosine_schedule(50)
    fig = plots.error_gain_plot(s, mark_t=[1, 50])
    labels = [t.get_text() for t in fig.axes[0].texts]
    from ddpm_sampling import error_gain

    gain = error_gain(s)
    assert labels == [f"t=1: {float(gain[0]):.3g}", f"t=50: {float(gain[49]):.3g}"]


def six(value):
    return {f"sampler {i}": value for i in range(6)}


def test_a_sixth_series_is_refused_not_dropped():
    with pytest.raises(ValueError, match="per_sample has 6 series; it takes 1..5"):
        plots.cost_plot([1, 10], six([0.1, 1.0]), six(0.1))
    with pytest.raises(ValueError, match="steps has 6 series; it takes 1..5"):
        plots.quality_vs_steps(six([1, 10]), six([5.0, 2.0]), six([0.1, 0.1]), {"real": (1.0, 0.0)})
    with pytest.raises(ValueError, match="seconds has 6 series; it takes 1..5"):
        image = torch.zeros(1, 8, 8)
        plots.fewer_steps_figure([1], six([0.1]), six([0.1]), [1.0], six([[image]]), ncols=1)
    with pytest.raises(ValueError, match="references has 3 series; it takes 1..2"):
        refs = {"a": (1.0, 0.0), "b": (2.0, 0.0), "c": (3.0, 0.0)}
        plots.quality_vs_steps({"DDIM": [1, 10]}, {"DDIM": [5.0, 2.0]}, {"DDIM": [0.1, 0.1]}, refs)


def test_five_series_are_all_drawn():
    five = {f"sampler {i}": [0.1, 1.0] for i in range(5)}
    fig = plots.cost_plot([1, 10], five, {name: 0.1 for name in five})
    assert len(fig.axes[0].get_legend().get_texts()) == 5


@pytest.mark.parametrize(
    ("sigma", "problem"),
    [
        (-torch.eye(3, dtype=torch.float64), "has the eigenvalue -1 < 0"),
        (torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64), "is not symmetric"),
    ],
    ids=["negative-definite", "not-symmetric"],
)
def test_the_frechet_distance_of_an_impossible_covariance_is_refused(sigma, problem):
    mu = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match=f"sigma2 {problem}"):
        frechet_distance_gaussians(mu, torch.eye(3, dtype=torch.float64), mu, sigma)
    with pytest.raises(ValueError, match=f"sigma1 {problem}"):
        frechet_distance_gaussians(mu, sigma, mu, torch.eye(3, dtype=torch.float64))


def test_the_frechet_distance_accepts_a_singular_covariance():
    mu = torch.zeros(2, dtype=torch.float64)
    singular = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    assert frechet_distance_gaussians(mu, singular, mu, singular) == pytest.approx(0.0, abs=1e-9)


def test_nearest_training_of_values_too_large_for_float64_is_refused():
    data = torch.zeros(3, 1, 2, 2, dtype=torch.float64)
    huge = torch.full((1, 1, 2, 2), 1e200, dtype=torch.float64)
    with pytest.raises(ValueError, match="samples holds values too large for squared distances"):
        nearest_training(huge, data)
    with pytest.raises(ValueError, match=r"data \(or samples\) holds values too large for squared distances"):
        nearest_training(data[:1], torch.cat([data, huge]))


def test_a_size_that_cannot_be_honoured_is_refused_not_changed():
    s = cosine_schedule(50)
    with pytest.raises(ValueError, match="last = 60 is outside the valid range 1..50"):
        plots.coefficient_panels(s, last=60)
    with pytest.raises(ValueError, match="first = 0 is outside the valid range 1..50"):
        plots.coefficient_panels(s, first=0)
    with pytest.raises(ValueError, match="n_survive = 11 is outside the valid range 1..10"):
        evaluate(10, [2], 0, print, n_survive=11)


def test_a_schedule_whose_alpha_bar_does_not_decrease_is_refused():
    ab = torch.tensor([1.0, 0.9, 0.9, 0.5], dtype=torch.float64)
    with pytest.raises(ValueError, match="alpha_bar does not decrease .* at t = 2"):
        Schedule.from_alpha_bar(ab)
    with pytest.raises(ValueError, match="alpha_bar does not decrease .* at t = 2"):
        Schedule.from_alpha_bar(ab, max_beta=0.999)


def test_a_noise_level_that_overflows_the_prediction_is_refused():
    s = cosine_schedule(10)
    model = noisy_model(target_oracle(torch.zeros(1, 4, 4), s), 1e40, seeded(0))
    with pytest.raises(ValueError, match=r"level = 1e\+40 is outside the valid range for torch.float32"):
        model(torch.zeros(1, 4, 4), 5)
    big = noisy_model(target_oracle(torch.zeros(1, 4, 4, dtype=torch.float64), s), 1e40, seeded(0))
    assert torch.isfinite(big(torch.zeros(1, 4, 4, dtype=torch.float64), 5)).all()


# --- damaged weights records -------------------------------------------------------------------


@pytest.fixture
def weights_copy(tmp_path):
    folder = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, folder)
    return folder


def test_a_record_that_is_a_list_is_a_weights_error(weights_copy):
    (weights_copy / "unet.json").write_text(json.dumps([1, 2]))
    with pytest.raises(WeightsError, match="holds a JSON list, not an object of fields; restore it"):
        training_record("unet", weights_copy)
    with pytest.raises(WeightsError, match="holds a JSON list"):
        load_pretrained(weights_copy)


def test_a_record_that_is_not_utf8_is_a_weights_error(weights_copy):
    (weights_copy / "unet.json").write_bytes(b'{"sha256": "\xff\xfe"}')
    with pytest.raises(WeightsError, match="is not UTF-8 text .*; restore it"):
        training_record("unet", weights_copy)


def test_a_record_or_weights_that_are_folders_are_a_weights_error(weights_copy):
    (weights_copy / "unet.json").unlink()
    (weights_copy / "unet.json").mkdir()
    with pytest.raises(WeightsError, match="unet.json is a folder, not a file; restore it"):
        training_record("unet", weights_copy)
    (weights_copy / "classifier.pt").unlink()
    (weights_copy / "classifier.pt").mkdir()
    from ddpm_sampling import load_classifier

    with pytest.raises(WeightsError, match="classifier.pt is a folder, not a file"):
        load_classifier(weights_copy)


# --- the classifier and meta tensors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.zeros(2, 1, 32, 32), ValueError, r"x must be a batch of images \(B, 1, 28, 28\)"),
        (torch.zeros(1, 28, 28), ValueError, r"x must be a batch of images \(B, 1, 28, 28\)"),
        (torch.zeros(0, 1, 28, 28), ValueError, "B >= 1"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.float64), TypeError, "x has dtype torch.float64"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), TypeError, "x must be a floating-point tensor"),
        ([[0.0]], TypeError, "x must be a torch.Tensor"),
        (torch.zeros(2, 1, 28, 28, device="meta"), ValueError, "x is on the meta device"),
    ],
)
def test_the_classifier_checks_its_inputs(x, error, match):
    net = Classifier().eval()
    with pytest.raises(error, match=match):
        net(x)
    with pytest.raises(error, match=match):
        net.features(x)


def test_the_classifier_checks_its_configuration():
    with pytest.raises(ValueError, match="num_classes = 1 is outside"):
        Classifier(num_classes=1)
    with pytest.raises(TypeError, match="channels must be a pair of ints"):
        Classifier(channels=32)
    with pytest.raises(ValueError, match=r"channels\[1\] = 0 is outside"):
        Classifier(channels=(8, 0))


def test_meta_device_tensors_get_a_clear_error():
    from ddpm_sampling import predict_x0

    s = cosine_schedule(10)
    meta = torch.zeros(1, 4, 4, device="meta")
    with pytest.raises(ValueError, match="x_t is on the meta device, which holds no values"):
        predict_x0(meta, 3, torch.zeros(1, 4, 4), s)
    with pytest.raises(ValueError, match="is on the meta device"):
        nearest_training(torch.zeros(1, 1, 2, 2, device="meta"), torch.zeros(3, 1, 2, 2))


# --- odd inputs to the plot helpers ------------------------------------------------------------

IMAGE = torch.zeros(1, 8, 8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: plots.image_row([]), ValueError, "images is empty"),
        (lambda: plots.image_grid([]), ValueError, "images is empty"),
        (lambda: plots.image_row([IMAGE], ["a", "b"]), ValueError, "got 1 images but 2 titles"),
        (lambda: plots.image_row([IMAGE], [3]), TypeError, r"titles\[0\] must be a str"),
        (lambda: plots.image_row([torch.zeros(3, 8, 8)]), ValueError, r"images\[0\] must be a gray image"),
        (lambda: plots.image_row([torch.zeros(1, 0, 8)]), ValueError, r"images\[0\] must be a gray image"),
        (lambda: plots.image_row([torch.zeros(1, 8, 8, dtype=torch.uint8)]), TypeError, "floating-point"),
        (lambda: plots.image_row([[[0.0]]]), TypeError, r"images\[0\] must be a torch.Tensor"),
        (lambda: plots.show_image(IMAGE, title=3), TypeError, "title must be a str"),
        (lambda: plots.trajectory_strip({}), ValueError, "snapshots is empty"),
        (lambda: plots.trajectory_strip({5: IMAGE}, {4: IMAGE}), ValueError, r"x0_hats has no image at t = \[5\]"),
        (lambda: plots.trajectory_strip({-1: IMAGE}), ValueError, "snapshots key = -1 is outside"),
        (lambda: plots.trajectory_strip([IMAGE]), TypeError, "snapshots must be a dict"),
        (lambda: plots.trajectory_animation({5: IMAGE}, interval=0), ValueError, "interval = 0 is outside"),
        (lambda: plots.trajectory_animation({5: IMAGE}, dpi=0), ValueError, "dpi = 0 is outside"),
        (lambda: plots.trajectory_animation({5: IMAGE}, {4: IMAGE}), ValueError, "x0_hats has no image at t"),
        (lambda: plots.trajectory_animation({}), ValueError, "snapshots is empty"),
        (lambda: plots.cost_plot([], {"a": [0.1]}, {"a": 0.1}), ValueError, "steps is empty"),
        (lambda: plots.cost_plot([1], {"a": [0.1]}, {}), ValueError, r"per_call must have the series \['a'\]"),
        (lambda: plots.cost_plot([1], {"a": [0.0]}, {"a": 0.1}), ValueError, r"per_sample\['a'\]\[0\] = 0.0"),
        (
            lambda: plots.cost_plot([1], {"a": [0.1, 0.2]}, {"a": 0.1}),
            ValueError,
            "has 2 times for the 1 step counts in steps",
        ),
        (lambda: plots.cost_plot([0], {"a": [0.1]}, {"a": 0.1}), ValueError, r"steps\[0\] = 0 is outside"),
        (
            lambda: plots.fewer_steps_figure([1], {"a": [0.1]}, {"b": [0.1]}, [1.0], {"a": [[IMAGE]]}, ncols=1),
            ValueError,
            r"distance must have the series \['a'\]",
        ),
        (
            lambda: plots.fewer_steps_figure([1], {"a": [0.1]}, {"a": [0.1]}, [1.0], {"a": [[IMAGE]]}, ncols=2),
            ValueError,
            "has 1 images, fewer than ncols = 2",
        ),
        (
            lambda: plots.fewer_steps_figure([1], {"a": [0.1]}, {"a": [0.1]}, [1.5], {"a": [[IMAGE]]}, ncols=1),
            ValueError,
            "agree = .* must hold fractions in",
        ),
        (lambda: plots.loss_curve([]), ValueError, "loss is empty"),
        (lambda: plots.loss_curve([(1, 0.5, 3)]), TypeError, r"loss\[0\] must be a pair"),
        (lambda: plots.loss_curve([(1, -0.5)]), ValueError, r"the losses\[0\] = -0.5"),
        (lambda: plots.survival_plot([100], [0.5, 0.6], [0.1]), ValueError, "same_class has 2 numbers; it needs 1"),
        (lambda: plots.survival_plot([], [], []), ValueError, "start_t is empty"),
        (
            lambda: plots.error_per_t([1, 2], [0.1, 0.2], [0.1], 0.3, [1.0, 2.0], 0.5),
            ValueError,
            "x0_rms has 1 numbers; it needs 2",
        ),
        (
            lambda: plots.error_per_t([1], [0.1], [0.1], 0.0, [1.0], 0.5),
            ValueError,
            r"assumed = 0.0 is outside the valid range",
        ),
        (lambda: plots.image_bands({"a": torch.zeros(2, 8, 8)}), ValueError, r"bands\['a'\] must be a batch"),
        (lambda: plots.image_bands({}), ValueError, "bands has 0 series"),
    ],
)
def test_odd_inputs_to_the_plot_helpers_get_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_plot_helpers_draw_numpy_arrays_and_bfloat16_images_as_float32_tensors():
    image = torch.rand(1, 8, 8, generator=seeded(1)) * 2 - 1
    for other in (image.numpy(), image.to(torch.bfloat16)):
        fig = plots.show_image(other)
        drawn = fig.axes[0].images[0].get_array()
        np.testing.assert_allclose(
            np.asarray(drawn),
            image[0].to(other.dtype if isinstance(other, torch.Tensor) else torch.float32).float().numpy(),
        )
    fig = plots.cost_plot(np.array([1, 10]), {"a": np.array([0.1, 1.0])}, {"a": np.float64(0.1)})
    assert len(fig.axes[0].lines) == 2
    fig = plots.survival_plot(torch.tensor([100, 200]), torch.tensor([0.5, 0.25], dtype=torch.bfloat16), [0.1, 0.2])
    assert list(fig.axes[0].lines[0].get_ydata()) == [50.0, 25.0]


# --- Hypothesis over the plot helpers ----------------------------------------------------------

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-3, 3),
    st.booleans(),
    st.text(max_size=2),
    st.none(),
)


@PROPERTY
@given(
    steps=st.lists(st.one_of(st.integers(-2, 1000), st.floats(0.5, 3), st.booleans()), max_size=4),
    n_series=st.integers(0, 7),
    values=st.lists(numbers, max_size=4),
    per_call=numbers,
)
def test_cost_plot_draws_or_refuses_clearly(steps, n_series, values, per_call):
    plt.close("all")
    per_sample = {f"s{i}": values for i in range(n_series)}
    calls = {f"s{i}": per_call for i in range(n_series)}
    try:
        fig = plots.cost_plot(steps, per_sample, calls)
    except (TypeError, ValueError) as err:
        assert str(err)
        return
    # drawn: every input was valid, and every series is on the axes
    assert steps and all(type(n) is int and n >= 1 for n in steps)
    assert 1 <= n_series <= 5 and 1 <= len(values) <= len(steps)
    assert len(fig.axes[0].lines) == 2 * n_series


@PROPERTY
@given(
    mark_t=st.lists(st.integers(-5, 60), max_size=3),
    last=st.one_of(st.none(), st.integers(-1, 60)),
)
def test_coefficient_panels_draw_or_refuse_clearly(mark_t, last):
    plt.close("all")
    s = cosine_schedule(50)
    try:
        fig = plots.coefficient_panels(s, mark_t=mark_t, last=last)
    except ValueError as err:
        assert "outside the valid range 1..50" in str(err)
        assert any(not 1 <= m <= 50 for m in mark_t) or (last is not None and not 1 <= last <= 50)
        return
    assert all(1 <= m <= 50 for m in mark_t)
    assert len(fig.axes[0].lines) == 1 + len(mark_t)


@PROPERTY
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    dtype=st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool]),
    kind=st.sampled_from(["tensor", "numpy", "list"]),
)
def test_show_image_draws_or_refuses_clearly(shape, dtype, kind):
    plt.close("all")
    x = torch.zeros(shape, dtype=dtype)
    if kind == "numpy":
        x = x.numpy() if dtype != torch.bfloat16 else x.float().numpy()
    elif kind == "list":
        x = x.tolist()
    try:
        fig = plots.show_image(x)
    except (TypeError, ValueError) as err:
        assert "img" in str(err)
        return
    assert fig.axes[0].images
    assert (len(shape) == 2 or (len(shape) == 3 and shape[0] == 1)) and min(shape) >= 1
    assert dtype.is_floating_point


THREE = torch.zeros(3, 1, 8, 8)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: plots.x0_hat_rows({5: THREE}, [-1], ["a"]),
            ValueError,
            r"rows\[0\] = -1 is outside the valid range 0..2",
        ),
        (
            lambda: plots.x0_hat_rows({5: THREE}, [3], ["a"]),
            ValueError,
            r"rows\[0\] = 3 is outside the valid range 0..2",
        ),
        (lambda: plots.x0_hat_rows({}, [0], ["a"]), ValueError, "x0_hats must be a non-empty dict"),
        (lambda: plots.x0_hat_rows({5: THREE}, [], []), ValueError, "rows is empty"),
        (
            lambda: plots.x0_hat_rows({5: THREE}, [0], ["a", "b"]),
            ValueError,
            "row_labels has 2 titles; it needs 1, one per entry of rows",
        ),
        (lambda: plots.sample_pairs(THREE, THREE[:2], list("abc"), list("abc")), ValueError, "need 3 nearest images"),
        (lambda: plots.sample_pairs(THREE, THREE, list("ab"), list("abc")), ValueError, "top_titles has 2 titles"),
        (lambda: plots.sample_pairs(THREE[:0], THREE[:0], [], []), ValueError, "B, H, W >= 1"),
        (lambda: plots.sample_pairs([1], THREE, [], []), TypeError, "samples must be a torch.Tensor"),
    ],
)
def test_odd_inputs_to_the_generation_plots_get_a_clear_error(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_x0_hat_rows_draws_the_sample_asked_for():
    x = torch.stack([torch.full((1, 4, 4), v) for v in (-0.5, 0.0, 0.5)])
    fig = plots.x0_hat_rows({5: x}, [2], ["last"])
    assert float(np.asarray(fig.axes[0].images[0].get_array()).mean()) == 0.5


@pytest.mark.parametrize("damage", ["list", "not-utf8", "folder", "missing"])
def test_a_damaged_quality_table_is_a_weights_error(weights_copy, damage):
    from ddpm_sampling.evaluate import load_evaluation

    path = weights_copy / "evaluation.json"
    path.unlink()
    if damage == "list":
        path.write_text("[1, 2]")
    elif damage == "not-utf8":
        path.write_bytes(b'{"n": "\xff"}')
    elif damage == "folder":
        path.mkdir()
    with pytest.raises(WeightsError, match="the quality table .*evaluation.json .*make evaluate"):
        load_evaluation(weights_copy)


@PROPERTY
@given(
    start_t=st.lists(st.one_of(st.integers(-1, 1000), st.floats(0, 10)), max_size=3),
    same_class=st.lists(numbers, max_size=3),
    rms=st.lists(numbers, max_size=3),
    as_array=st.booleans(),
)
def test_survival_plot_draws_or_refuses_clearly(start_t, same_class, rms, as_array):
    plt.close("all")
    if as_array:  # NumPy arrays of whatever the lists hold
        start_t, same_class, rms = (np.array(v, dtype=object) for v in (start_t, same_class, rms))
    try:
        fig = plots.survival_plot(start_t, same_class, rms)
    except (TypeError, ValueError) as err:
        assert str(err)
        return
    n = len(start_t)
    assert n >= 1 and len(same_class) == len(rms) == n
    assert all(type(v) in (float, int) and 0 <= v <= 1 for v in list(same_class))
    assert [round(y, 9) for y in fig.axes[0].lines[0].get_ydata()] == [round(100 * v, 9) for v in list(same_class)]


# --- Hypothesis over every plot helper: any one argument replaced by an odd value ---------------


def plot_examples() -> dict[str, tuple]:
    """Each plot helper with arguments that draw, by parameter name: the call the odd values are put into."""
    s = cosine_schedule(50)
    g = seeded(0)
    three = torch.randn(3, 1, 8, 8, generator=g)
    snaps = {50: three[0], 25: three[1], 0: three[2]}
    calls = {
        "show_image": (plots.show_image, three[0], "x"),
        "image_row": (plots.image_row, list(three), ["a", "b", "c"]),
        "image_grid": (plots.image_grid, list(three), None, 2),
        "trajectory_strip": (plots.trajectory_strip, snaps, snaps),
        "coefficient_panels": (plots.coefficient_panels, s),
        "error_gain_plot": (plots.error_gain_plot, s, [10]),
        "schedule_plot": (plots.schedule_plot, s),
        "sample_pairs": (plots.sample_pairs, three, three, list("abc"), list("def"), 2),
        "x0_hat_rows": (plots.x0_hat_rows, {50: three, 0: three}, [0, 2], ["p", "q"]),
        "decision_plot": (
            plots.decision_plot,
            torch.rand(51, 3, generator=g),
            torch.rand(51, 3, 4, generator=g).softmax(-1),
            torch.tensor([5, 9, 2]),
            torch.tensor([7, 9, 3]),
        ),
        "weight_sharing_plot": (plots.weight_sharing_plot, s, 1 + 9 * torch.rand(51, 3, generator=g)),
        "cost_plot": (plots.cost_plot, [1, 10], {"net": [0.1, 1.0]}, {"net": 0.1}),
        "fewer_steps_figure": (
            plots.fewer_steps_figure,
            [1, 10],
            {"a": [0.1, 1.0]},
            {"a": [0.5, 0.0]},
            [0.5, 1.0],
            {"a": [list(three[:2]), list(three[:2])]},
            2,
        ),
        "loss_curve": (plots.loss_curve, [(1, 0.5), (2, 0.4)]),
        "image_bands": (plots.image_bands, {"a": three, "b": three[:1]}, 2),
        "error_per_t": (plots.error_per_t, [1, 2], [0.1, 0.2], [0.3, 0.4], 0.1, [1.0, 2.0], 0.5),
        "quality_vs_steps": (
            plots.quality_vs_steps,
            {"a": [1, 2]},
            {"a": [3.0, 2.0]},
            {"a": [0.1, 0.2]},
            {"r": (1.0, 0.1)},
        ),
        "survival_plot": (plots.survival_plot, [100, 200], [0.9, 0.5], [0.1, 0.2]),
    }
    return {name: (fn, dict(inspect.signature(fn).bind(*args).arguments)) for name, (fn, *args) in calls.items()}


def test_every_plot_helper_has_an_example_that_draws():
    from test_plots import plot_helpers

    examples = plot_examples()
    assert sorted(examples) == sorted(plot_helpers()), "a plot helper without an example here"
    for name, (fn, kwargs) in examples.items():
        assert fn(**kwargs).axes, name
        plt.close("all")


odd_values = st.one_of(
    st.sampled_from([None, "a", -1, 0, 1.5, float("nan"), float("inf"), True, [], {}, (), [[]], {"a": []}, object()]),
    st.builds(torch.zeros, st.lists(st.integers(0, 3), max_size=4).map(tuple)),
    st.builds(lambda n: torch.full((n,), float("nan")), st.integers(0, 3)),
    st.builds(np.zeros, st.lists(st.integers(0, 3), max_size=3).map(tuple)),
    st.lists(st.one_of(st.integers(-2, 60), st.floats(allow_nan=True), st.none()), max_size=3),
)


@PROPERTY
@given(name=st.sampled_from(sorted(plot_examples())), which=st.integers(0, 10), odd=odd_values)
def test_every_plot_helper_draws_or_names_the_odd_argument(name, which, odd):
    plt.close("all")
    fn, kwargs = plot_examples()[name]
    param = sorted(kwargs)[which % len(kwargs)]
    try:
        fig = fn(**{**kwargs, param: odd})
    except (TypeError, ValueError) as err:
        assert param in str(err), f"{name}({param}={odd!r}) raised without naming {param}: {err}"
        return
    assert fig.axes, f"{name}({param}={odd!r}) returned a figure with nothing drawn"
