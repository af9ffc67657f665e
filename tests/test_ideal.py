"""The ideal denoiser against a direct broadcast implementation and against what it must do."""

import sys

import pytest
import torch

from ddpm_sampling import cosine_schedule, ddpm_sample, ideal_denoiser, nearest_training
from ddpm_sampling.trace import decided_at, sample_with_trace


def _data(n=12, seed=0, size=6):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g) * 2 - 1


def _direct(x_t, t, data, schedule):
    """The same formula written the plain way: every difference image materialised, O(B x N x pixels)."""
    ab = schedule.alpha_bar.to(torch.float64)[t]
    x = x_t.to(torch.float64)[:, None]  # (B, 1, C, H, W)
    y = data.to(torch.float64)[None]  # (1, N, C, H, W)
    d2 = ((x - ab.sqrt() * y) ** 2).flatten(2).sum(-1)  # (B, N)
    w = torch.softmax(-d2 / (2 * (1 - ab)), dim=1)
    x0 = torch.einsum("bn,nchw->bchw", w, data.to(torch.float64))
    eps = (x_t.to(torch.float64) - ab.sqrt() * x0) / (1 - ab).sqrt()
    return w, x0, eps


@pytest.mark.parametrize("t", [1, 3, 20, 50, 80, 100])
def test_matches_direct_broadcast_implementation(t):
    s = cosine_schedule(100)
    data = _data()
    x_t = torch.randn(5, 1, 6, 6, generator=torch.Generator().manual_seed(t)) * 0.7
    m = ideal_denoiser(data, s)
    w, x0, eps = _direct(x_t, t, data, s)
    pred = m.predict(x_t, t)
    torch.testing.assert_close(pred.weights, w, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(pred.x0_hat, x0.float(), rtol=1e-5, atol=1e-5)
    if t > 3:  # near t = 1 eps divides by a tiny sqrt(1 - alpha_bar); compare relative there
        torch.testing.assert_close(pred.eps, eps.float(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(m(x_t, t), pred.eps)


def test_weights_sum_to_one_and_per_image_timesteps():
    s = cosine_schedule(100)
    data = _data()
    m = ideal_denoiser(data, s)
    x_t = torch.randn(4, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([1, 30, 70, 100])
    w = m.weights(x_t, t)
    assert w.shape == (4, 12)
    torch.testing.assert_close(w.sum(1), torch.ones(4, dtype=torch.float64))
    assert (w >= 0).all()
    for i in range(4):  # one timestep per image is the same as each image alone
        torch.testing.assert_close(w[i], m.weights(x_t[i], int(t[i])))


def test_small_t_predicts_the_nearest_training_image():
    s = cosine_schedule(1000)
    data = _data(n=30, size=8)
    m = ideal_denoiser(data, s)
    g = torch.Generator().manual_seed(3)
    # start near training image 7, noised at t = 5: the posterior sits on image 7
    x_t = s.sqrt_alpha_bar[5] * data[7:8] + s.sqrt_one_minus_alpha_bar[5] * torch.randn(1, 1, 8, 8, generator=g)
    torch.testing.assert_close(m.predict_x0(x_t, 5), data[7:8], rtol=0, atol=1e-6)
    # and for an arbitrary point, the prediction at t = 1 is whichever image is nearest to x / sqrt(ab)
    x = torch.randn(6, 1, 8, 8, generator=g)
    index, _ = nearest_training(x / s.sqrt_alpha_bar[1], data)
    torch.testing.assert_close(m.predict_x0(x, 1), data[index], rtol=0, atol=1e-6)


@pytest.mark.parametrize("max_beta", [0.999, None])
def test_finite_at_first_and_last_step(max_beta):
    s = cosine_schedule(1000, max_beta=max_beta)
    data = _data(n=20, size=8)
    m = ideal_denoiser(data, s)
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(4)) * 30  # far from every image
    for t in (1, 2, s.T - 1, s.T):
        pred = m.predict(x, t)
        for name, value in pred._asdict().items():
            assert torch.isfinite(value).all(), f"{name} at t={t}"
    # at t = T the noisy image carries (almost) no signal: the prediction is the data mean
    x = x / 30
    torch.testing.assert_close(m.predict_x0(x, s.T), data.mean(0).expand(3, -1, -1, -1), rtol=0, atol=1e-3)


def test_samples_are_training_images_and_differ_by_seed():
    s = cosine_schedule(200)
    data = _data(n=25, size=6)
    m = ideal_denoiser(data, s)
    a, _ = ddpm_sample(m, s, shape=(4, 1, 6, 6), generator=torch.Generator().manual_seed(1))
    b, _ = ddpm_sample(m, s, shape=(4, 1, 6, 6), generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(a, b)
    _, dist = nearest_training(torch.cat([a, b]), data)
    assert dist.max() < 1e-4  # it memorises: every sample is a training image


def test_trace_matches_plain_sampling_and_records_the_weights():
    s = cosine_schedule(100)
    data = _data()
    m = ideal_denoiser(data, s)
    tr = sample_with_trace(m, shape=(3, 1, 6, 6), generator=torch.Generator().manual_seed(5))
    x, _ = ddpm_sample(m, s, shape=(3, 1, 6, 6), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(tr.x0, x)
    assert (tr.top_index[1:] >= 0).all() and (tr.top_weight[1:] <= 1).all()
    index, _ = nearest_training(x, data)
    assert torch.equal(tr.top_index[1], index)  # the last step leans on the image it lands on
    assert tr.class_weight is None  # no labels given
    n = data.shape[0]
    assert ((tr.effective_number[1:] >= 1 - 1e-9) & (tr.effective_number[1:] <= n + 1e-9)).all()


def test_trace_records_what_the_weights_at_each_step_say():
    s = cosine_schedule(50)
    data = _data(n=15, size=5)
    labels = torch.arange(15) % 4  # classes 0..3
    m = ideal_denoiser(data, s)
    tr = sample_with_trace(
        m, shape=(3, 1, 5, 5), generator=torch.Generator().manual_seed(2), snapshot_timesteps=[50, 30, 8], labels=labels
    )
    assert tr.class_weight.shape == (51, 3, 4) and tr.class_weight.dtype == torch.float64
    assert tr.effective_number.shape == (51, 3)
    torch.testing.assert_close(tr.class_weight[1:].sum(-1), torch.ones(50, 3, dtype=torch.float64))
    assert (tr.class_weight[0] == 0).all()  # row 0: no model call
    for t in (50, 30, 8):  # each row is what the weights of that step's x_t give
        w = m.weights(tr.snapshots[t], t)
        torch.testing.assert_close(tr.top_weight[t], w.max(-1).values)
        assert torch.equal(tr.top_index[t], w.argmax(-1))
        torch.testing.assert_close(tr.effective_number[t], 1 / (w * w).sum(-1))
        expected = torch.stack([w[:, labels == k].sum(-1) for k in range(4)], dim=-1)
        torch.testing.assert_close(tr.class_weight[t], expected)
    # at t = T the image is (almost) gone: the weights are (almost) equal
    torch.testing.assert_close(tr.effective_number[50], torch.full((3,), 15.0, dtype=torch.float64), rtol=1e-3, atol=0)
    # the same run with labels and without: the same samples; more classes: empty columns
    wide = sample_with_trace(
        m, shape=(3, 1, 5, 5), generator=torch.Generator().manual_seed(2), labels=labels, num_classes=6
    )
    torch.testing.assert_close(wide.x0, tr.x0)
    torch.testing.assert_close(wide.class_weight[:, :, :4], tr.class_weight)
    assert (wide.class_weight[:, :, 4:] == 0).all()


@pytest.mark.parametrize(
    "labels, num_classes, error, match",
    [
        (torch.zeros(12), None, TypeError, "labels must be a tensor of class indices of a signed integer dtype"),
        (torch.zeros(12, dtype=torch.bool), None, TypeError, "labels must be a tensor of class indices"),
        ([0] * 12, None, TypeError, "labels must be a tensor of class indices"),
        (torch.zeros(11, dtype=torch.long), None, ValueError, r"labels must have shape \(12,\), one class index per"),
        (torch.zeros(12, 1, dtype=torch.long), None, ValueError, r"labels must have shape \(12,\)"),
        (
            torch.tensor([0] * 11 + [-1]),
            None,
            ValueError,
            r"labels hold -1, outside the valid range: class indices are ints >= 0",
        ),
        (torch.arange(12), 10, ValueError, r"labels hold 11, outside the valid range 0..9 \(num_classes = 10\)"),
        (torch.arange(12), 0, ValueError, r"num_classes = 0 is outside the valid range"),
        (torch.arange(12), 12.0, TypeError, "num_classes must be an int"),
        (None, 3, ValueError, "num_classes is given without labels"),
    ],
)
def test_trace_refuses_bad_labels(labels, num_classes, error, match):
    m = ideal_denoiser(_data(), cosine_schedule(10))
    with pytest.raises(error, match=match):
        sample_with_trace(m, shape=(1, 6, 6), labels=labels, num_classes=num_classes)


def test_decided_at():
    labels = torch.tensor([[-1, -1, -1], [3, 3, 1], [3, 4, 1], [5, 3, 1], [3, 3, 1]])  # rows t = 0..4
    assert decided_at(labels).tolist() == [2, 1, 4]
    # a condition that holds at t = 1: the largest t from which on it holds to the end
    weight = torch.tensor([[0.0, 0.0], [1.0, 0.999], [0.995, 0.5], [0.2, 0.999], [0.999, 0.999]])
    assert decided_at(weight > 0.99).tolist() == [2, 1]


@pytest.mark.parametrize(
    "data, match",
    [
        (torch.zeros(5, 6, 6), r"\(N, C, H, W\)"),
        (torch.zeros(0, 1, 6, 6), "N >= 1"),
        (torch.full((2, 1, 3, 3), float("nan")), "non-finite"),
    ],
)
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        ideal_denoiser(data, cosine_schedule(10))


def test_integer_data_is_a_type_error():
    with pytest.raises(TypeError, match="data must be a floating-point tensor"):
        ideal_denoiser(torch.zeros(2, 1, 3, 3, dtype=torch.long), cosine_schedule(10))


def test_bad_calls():
    m = ideal_denoiser(_data(), cosine_schedule(10))
    x = torch.zeros(2, 1, 6, 6)
    with pytest.raises(ValueError, match=r"t = 11 is outside the valid range 1..10"):
        m(x, 11)
    with pytest.raises(ValueError, match=r"t = 0 is outside the valid range 1..10"):
        m(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"training images are \(1, 6, 6\)"):
        m(torch.zeros(2, 1, 5, 5), 3)


def test_nearest_training_finds_copies_and_measures_rms():
    data = _data(n=9, size=5)
    samples = torch.stack([data[4], data[0] + 0.1])
    index, rms = nearest_training(samples, data)
    assert index.tolist() == [4, 0]
    assert rms[0].item() == 0.0
    torch.testing.assert_close(rms[1], torch.tensor(0.1, dtype=torch.float64), rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match="differ in image size"):
        nearest_training(torch.zeros(1, 1, 4, 4), data)


def test_generation_plots_return_figures():
    import matplotlib.pyplot as plt
    from conftest import ROOT

    from ddpm_sampling import plots

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from glue_helpers import small_text  # what the page checks: no text too small to read

    s = cosine_schedule(20)
    data = _data(n=6)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    tr = sample_with_trace(
        ideal_denoiser(data, s), shape=(3, 1, 6, 6), generator=torch.Generator().manual_seed(0), labels=labels
    )
    fig = plots.sample_pairs(tr.x0, data[:3], ["a", "b", "c"], ["d", "e", "f"], ncols=2)
    assert len(fig.axes) == 8  # two bands of (sample, nearest) rows, two columns
    with pytest.raises(ValueError, match="need 3 nearest images"):
        plots.sample_pairs(tr.x0, data[:2], ["a"] * 3, ["b"] * 3)

    decided = decided_at(tr.top_weight > 0.99)
    fig = plots.decision_plot(tr.top_weight, tr.class_weight, decided, decided)
    assert len(fig.axes) == 2 and small_text(fig) == []
    left = fig.axes[0]
    assert len(left.lines) == 2 * 3 + 1  # per sample its class and its heaviest image, and the threshold
    final = tr.class_weight[1].argmax(-1)
    torch.testing.assert_close(torch.as_tensor(left.lines[0].get_ydata()), tr.class_weight[1:, 0, final[0]])
    assert left.lines[-1].get_ydata()[0] == 0.99
    fig = plots.weight_sharing_plot(s, tr.effective_number)
    assert len(fig.axes) == 2 and small_text(fig) == []
    assert fig.axes[1].get_yscale() == "log" and len(fig.axes[1].lines) == 3

    # both draw into given axes and return their figure
    host, axes = plt.subplots(2, 2)
    assert plots.decision_plot(tr.top_weight, tr.class_weight, decided, decided, axes=axes[0]) is host
    assert plots.weight_sharing_plot(s, tr.effective_number, axes=axes[1]) is host
    assert len(axes[1, 1].lines) == 3

    with pytest.raises(ValueError, match=r"class_weight must be a tensor of shape \(T \+ 1, B, K\)"):
        plots.decision_plot(tr.top_weight, tr.top_weight, decided, decided)
    with pytest.raises(ValueError, match=r"class_weight has shape \(21, 2, 3\)"):
        plots.decision_plot(tr.top_weight, tr.class_weight[:, :2], decided, decided)
    with pytest.raises(ValueError, match=r"class_decided must be a tensor of shape \(3,\)"):
        plots.decision_plot(tr.top_weight, tr.class_weight, decided, decided[:2])
    with pytest.raises(ValueError, match=r"threshold = 1.5 is outside"):
        plots.decision_plot(tr.top_weight, tr.class_weight, decided, decided, threshold=1.5)
    with pytest.raises(ValueError, match="the schedule has T = 10"):
        plots.weight_sharing_plot(cosine_schedule(10), tr.effective_number)
    plt.close("all")
