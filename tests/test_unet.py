"""The small U-Net, its training loop and the shipped weights."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
import torch

from ddpm_sampling import WeightsError, cosine_schedule, load_classifier, load_pretrained, training_record
from ddpm_sampling.files import save_atomic, write_text_atomic
from ddpm_sampling.pretrained import WEIGHTS_DIR
from ddpm_sampling.train import Recipe, Run, diffusion_loss, learning_rate, train
from ddpm_sampling.unet import UNet, UNetConfig, timestep_embedding

TINY = UNetConfig(channels=(8, 16, 16), time_dim=32, groups=4)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shapes_for_a_batch_a_single_image_and_per_image_timesteps():
    model = UNet(TINY).eval()
    x = torch.randn(3, 1, 28, 28, generator=seeded(0))
    assert model(x, 500).shape == (3, 1, 28, 28)
    assert model(x[0], 500).shape == (1, 28, 28)
    per_image = model(x, torch.tensor([1, 500, 1000]))
    torch.testing.assert_close(per_image[1], model(x[1:2], 500)[0], rtol=1e-5, atol=1e-6)


def test_the_default_network_has_a_few_hundred_thousand_parameters():
    model = UNet()
    n = sum(p.numel() for p in model.parameters())
    assert n == model.num_parameters()
    assert 200_000 <= n <= 600_000, n


def test_the_forward_pass_is_deterministic_and_depends_on_t():
    torch.manual_seed(0)
    model = UNet(TINY).eval()
    with torch.no_grad():  # the head starts at zero: give it weights so that t shows in the output
        model.head[-1].weight.normal_(generator=seeded(1))
    x = torch.randn(2, 1, 28, 28, generator=seeded(2))
    with torch.no_grad():
        assert torch.equal(model(x, 10), model(x, 10))
        assert not torch.allclose(model(x, 10), model(x, 900))


def test_timestep_embedding_is_sines_then_cosines():
    emb = timestep_embedding(torch.tensor([0, 7]), 8)
    assert emb.shape == (2, 8)
    torch.testing.assert_close(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    torch.testing.assert_close(emb[1, 0], torch.tensor(7.0).sin())


def test_learning_rate_warms_up_then_decays_to_the_final_fraction():
    r = Recipe(steps=100, lr=1.0, warmup=10, final_lr_fraction=0.1)
    assert learning_rate(0, r) == pytest.approx(0.1)
    assert learning_rate(9, r) == pytest.approx(1.0)
    assert learning_rate(10, r) == pytest.approx(1.0)
    assert learning_rate(100, r) == pytest.approx(0.1)
    values = [learning_rate(s, r) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def tiny_run(steps: int, images: torch.Tensor, ema_decay: float = 0.9):
    torch.manual_seed(0)
    recipe = Recipe(
        steps=steps, batch_size=32, lr=3e-3, warmup=5, ema_decay=ema_decay, log_every=10, checkpoint_every=20
    )
    run = Run("unet", UNet(TINY), recipe)
    schedule = cosine_schedule()

    def loss_fn():
        index = torch.randint(len(images), (recipe.batch_size,), generator=run.generator)
        return diffusion_loss(run.model, images[index], schedule, run.generator)

    return run, loss_fn, schedule


def fixed_loss(model, images, schedule) -> float:
    with torch.no_grad():
        return diffusion_loss(model, images, schedule, seeded(123)).item()


@pytest.fixture(scope="module")
def few_images():
    """300 smooth blobs of 12 x 12 pixels in [-1, 1], a small stand-in data set that needs no download."""
    g = seeded(7)
    centre = torch.rand(300, 2, 1, 1, generator=g) * 6 + 3
    yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    d2 = (yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2
    return (torch.exp(-d2 / 6) * 2 - 1)[:, None]


def test_a_short_training_run_lowers_the_loss(few_images):
    run, loss_fn, schedule = tiny_run(40, few_images)
    before = fixed_loss(run.model, few_images[:64], schedule)
    train(run, loss_fn)
    assert run.step == 40 and [s for s, _ in run.losses] == [10, 20, 30, 40]
    after = fixed_loss(run.model, few_images[:64], schedule)
    assert after < 0.8 * before, (before, after)
    assert fixed_loss(run.ema, few_images[:64], schedule) < before


def test_resuming_from_a_checkpoint_gives_the_same_network(few_images, tmp_path):
    whole, loss_fn, _ = tiny_run(20, few_images)
    train(whole, loss_fn)
    interrupted, loss_fn, _ = tiny_run(20, few_images)
    train(interrupted, loss_fn, checkpoint=tmp_path / "unet.ckpt", until=10)  # as if stopped at step 10
    resumed, loss_fn, _ = tiny_run(20, few_images)
    resumed.load_state(torch.load(tmp_path / "unet.ckpt", weights_only=True))
    assert resumed.step == 10
    train(resumed, loss_fn)
    for a, b in zip(
        [*whole.model.parameters(), *whole.ema.parameters()], [*resumed.model.parameters(), *resumed.ema.parameters()]
    ):
        torch.testing.assert_close(a, b)
    assert whole.losses == resumed.losses


def test_a_checkpoint_of_another_recipe_is_refused(few_images):
    run, _, _ = tiny_run(20, few_images)
    other, _, _ = tiny_run(30, few_images)
    with pytest.raises(ValueError, match="resume with the same options"):
        run.load_state(other.state())


def test_save_atomic_leaves_the_old_file_whole_when_writing_fails(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"a": torch.ones(2)}, path)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot be saved")

    with pytest.raises(RuntimeError, match="cannot be saved"):
        save_atomic({"a": Unpicklable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_atomic_writes_are_readable_like_any_new_file(tmp_path):
    umask = os.umask(0o022)
    try:
        save_atomic({"a": 1}, tmp_path / "a.pt")
        write_text_atomic("{}", tmp_path / "a.json")
    finally:
        os.umask(umask)
    for name in ("a.pt", "a.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


# --- the shipped weights ---------------------------------------------------------------------


def test_the_shipped_network_loads_in_eval_mode_without_gradients():
    model = load_pretrained()
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())
    record = training_record("unet")
    assert record["parameters"] == model.num_parameters()
    assert record["steps"] == record["recipe"]["steps"]
    for key in ("seed", "wall_time_s", "device", "torch", "loss", "sha256"):
        assert key in record
    x = torch.randn(2, 1, 28, 28, generator=seeded(0))
    assert torch.isfinite(model(x, 1000)).all()


def test_the_shipped_classifier_loads(tmp_path):
    model = load_classifier()
    assert not model.training
    assert training_record("classifier")["test_accuracy"] >= 0.88


@pytest.mark.parametrize("name", ["unet", "classifier"])
def test_damaged_weights_are_refused_with_the_way_to_fix_them(tmp_path, name):
    for f in WEIGHTS_DIR.glob(f"{name}.*"):
        shutil.copy(f, tmp_path / f.name)
    data = bytearray((tmp_path / f"{name}.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / f"{name}.pt").write_bytes(bytes(data))
    load = load_pretrained if name == "unet" else load_classifier
    with pytest.raises(WeightsError, match=r"damaged .*make train"):
        load(tmp_path)


@pytest.mark.parametrize("missing", ["unet.pt", "unet.json"])
def test_missing_weights_or_record_are_refused_with_the_way_to_fix_them(tmp_path, missing):
    for f in WEIGHTS_DIR.glob("unet.*"):
        if f.name != missing:
            shutil.copy(f, tmp_path / f.name)
    with pytest.raises(WeightsError, match=rf"{missing} is missing.*make train"):
        load_pretrained(tmp_path)


def test_a_record_that_is_not_json_is_refused(tmp_path):
    for f in WEIGHTS_DIR.glob("unet.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "unet.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_pretrained(tmp_path)


def test_the_record_hash_is_the_hash_of_the_committed_file():
    import hashlib

    for name in ("unet", "classifier"):
        record = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
        assert hashlib.sha256((WEIGHTS_DIR / f"{name}.pt").read_bytes()).hexdigest() == record["sha256"]
        assert (WEIGHTS_DIR / f"{name}.pt").stat().st_size < 5 * 2**20
