"""Where the networks run: a model moved to a device while the sampler stays on the CPU, and how a
device is described in the records the commands write."""

from __future__ import annotations

import platform

import torch
from torch import Tensor, nn


class OnDevice(nn.Module):
    """Run ``model`` on ``device`` while the sampler around it stays on the CPU.

    Inputs go to the device and predictions come back, so every random draw of a sampler is
    made by the same CPU generators on any machine, and one seed means the same samples
    (up to floating-point rounding) on a CPU and a GPU.
    """

    def __init__(self, model: nn.Module, device: str | torch.device) -> None:
        super().__init__()
        self.device = torch.device(device)
        self.model = model.to(self.device)

    def forward(self, x: Tensor, t) -> Tensor:
        t = t.to(self.device) if isinstance(t, Tensor) else t
        return self.model(x.to(self.device), t).to(x.device)


def describe_device(device: str | torch.device) -> str:
    """The quality table's record of where it ran: the GPU of the network, if any, and the CPU threads."""
    device = torch.device(device)
    if device.type == "cuda":
        threads = torch.get_num_threads()
        return f"{torch.cuda.get_device_name(device)} for the network, cpu ({threads} threads) for the rest"
    return f"{device.type} ({torch.get_num_threads()} threads)"


def device_name(device: str) -> str:
    """A training record's device: ``cuda`` with the GPU's name, or the CPU's processor and threads."""
    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
