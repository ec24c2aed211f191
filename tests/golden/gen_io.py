"""Golden data for tests/test_io.c: a safetensors file written by PyTorch's
safetensors package (io_torch.safetensors) and its values in io.txt."""
import os

import torch
from safetensors.torch import save_file

from golden import GoldenWriter

torch.manual_seed(3)
tensors = {
    "features.0.weight": torch.randn(3, 4),
    "features.0.bias": torch.randn(3),
    "counts": torch.tensor([[1, -2], [300000, 4]], dtype=torch.int32),
    "mask": torch.tensor([0, 1, 255, 7, 9], dtype=torch.uint8),
    "scale": torch.tensor(0.5),
}
here = os.path.dirname(os.path.abspath(__file__))
save_file(tensors, os.path.join(here, "io_torch.safetensors"),
          metadata={"framework": "pt", "note": "written by gen_io.py"})

with GoldenWriter("io.txt") as g:
    g.case("torch_file", **{k.replace(".", "_"): v for k, v in tensors.items()})
