"""The encoder's numeric routes: which one a machine takes, and what int8 means.

Speed of the text encoder depends on the CPU more than on anything in our code: bf16 is fast
where the CPU has AMX or a fast bf16 path and slow where it has neither, int8 needs VNNI's
32-bit dot products. Detection, the default and the quantisation live here so that
:mod:`qanneal_llm.embeddings` only runs whichever route it is given.
"""

from __future__ import annotations

import os
import warnings

from qanneal_llm._validation import resolve_device

__all__ = ["BF16_ENV", "default_dtype"]

_DTYPES = ("float32", "float16", "bfloat16", "int8")
# Overrides the CPU's native-bf16 detection ("0" or "1"): emulates the other kind of CPU.
BF16_ENV = "QANNEAL_LLM_CPU_BF16"
# What "int8" means, in the cache key: change it whenever the quantisation changes.
_INT8_SCHEME = "int8-dynamic/per-channel-weights/full-range-activations/fp32-ffn-out"


def _cpu_has_native_bf16() -> bool:
    forced = os.environ.get(BF16_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if forced:
        raise ValueError(f"{BF16_ENV} must be '0' or '1' (or unset to detect), got {forced!r}")
    import torch

    caps = (
        getattr(torch.cpu, "_is_avx512_bf16_supported", None),
        getattr(torch.cpu, "_is_amx_tile_supported", None),
    )
    return any(check is not None and check() for check in caps)


def _cpu_has_int8_dot() -> bool:
    import torch

    # fbgemm's int8 kernels sum u8 x s8 pairs in int16 without VNNI, which can saturate with
    # full-range activations; the int8 route needs VNNI's 32-bit dot products.
    check = getattr(torch.cpu, "_is_vnni_supported", None)
    engines = torch.backends.quantized.supported_engines
    return bool(check is not None and check() and "fbgemm" in engines)


def default_dtype(device="cpu") -> str:
    """The numeric route :class:`TextEncoder` takes when ``dtype=None``.

    ``"float16"`` on CUDA; on CPUs ``"int8"`` dynamic quantisation when the CPU has VNNI int8
    dot products (cosine to float32: mean 0.997, min 0.991 on the ml-100k item texts), else
    ``"bfloat16"`` with native bf16 instructions, else ``"float32"``. int8 comes first because
    it is the fast route on both kinds of CPU we measured (``benchmarks/RESULTS.md``: 1.4x
    float32 on an Intel Xeon with avx512_bf16 and emulated without it, where bf16 ran at 0.6x
    and 0.25x float32), and taking the same route on both keeps their vectors and caches alike.
    Set ``QANNEAL_LLM_CPU_BF16=0`` (or ``1``) to override the bf16 detection, e.g. to reproduce
    on one machine what another kind of CPU would choose.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"``, ``"cpu"`` or ``"cuda[:i]"``.

    Returns
    -------
    str
        One of ``"float16"``, ``"int8"``, ``"bfloat16"``, ``"float32"``.

    Examples
    --------
    >>> default_dtype("cpu") in ("bfloat16", "int8", "float32")
    True
    """
    if resolve_device(device).type == "cuda":
        return "float16"
    if _cpu_has_int8_dot():
        return "int8"
    return "bfloat16" if _cpu_has_native_bf16() else "float32"


def _resolve_dtype(dtype, device) -> str:
    import torch

    if dtype is None:
        return default_dtype(device)
    name = str(dtype).removeprefix("torch.")
    if isinstance(dtype, (str, torch.dtype)) and name in _DTYPES:
        if name == "int8" and device.type != "cpu":
            raise ValueError("dtype='int8' (dynamic quantisation) runs on CPU; pass device='cpu'")
        return name
    raise ValueError(
        f"dtype must be None (automatic), one of {sorted(_DTYPES)} or the matching torch dtype,"
        f" got {dtype!r}"
    )


def _quantize_int8(model):
    """Int8 dynamic quantisation of the Linear layers, tuned to keep cosine >= 0.99 to float32.

    Weights are quantised per output channel and activations per batch over the full 8-bit
    range (torch's default 7-bit activation range costs ~0.02 cosine on MiniLM). The
    feed-forward output projections stay float32: their GELU inputs have the widest range.
    Measured on the 1,682 ml-100k item texts (worst / mean cosine to float32): all quantised
    0.95 / -, first layer's kept 0.984 / 0.995, all six kept 0.991 / 0.997, at 1.45x float32's
    texts per CPU-second instead of 1.87x: the worst text is what the 0.99 bar is about.
    """
    import torch
    from torch.ao.nn.quantized import dynamic as nnqd
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    class FullRangeLinear(nnqd.Linear):
        def forward(self, x):
            y = torch.ops.quantized.linear_dynamic(
                x, self._packed_params._packed_params, reduce_range=False
            )
            return y.to(x.dtype)

    linears = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    ffn_outputs = [n for n in linears if n.endswith(".output.dense") and ".attention." not in n]
    keep = set(ffn_outputs)
    spec = {n: per_channel_dynamic_qconfig for n in linears if n not in keep}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's notice that torchao is its successor
        return quantize_dynamic(
            model, spec, dtype=torch.qint8, mapping={torch.nn.Linear: FullRangeLinear}
        )
