"""A small catalogue of real accelerators and open-weight model architectures
(docs/model.md §1, §13).

Accelerators carry their public peak numbers (HBM bandwidth, dense BF16 tensor FLOP/s,
board power) with the document they come from. The energy constants of docs/model.md §1
are *derived* from them under one stated assumption:

    while it streams weights or computes, the accelerator draws ``power_fraction`` times
    its board power (TDP/TBP); so one byte costs ``p TDP / bandwidth`` and one FLOP
    ``p TDP / peak FLOP/s``.

A token then costs ``p TDP`` times its modelled time (docs/model.md §1 adds streaming and
compute time), which is what a memory-bound, batch-1 decoder at full power draws. The
default ``power_fraction`` is 1; the calibration (:mod:`energy_routing.studies.calibration`)
moves the constants by +-50 %.

Models carry their architecture from the model's ``config.json`` (layers, hidden size,
intermediate size, vocabulary, attention and key-value heads, head dimension, tied
embeddings, QKV bias) and the parameter count stated on the model card; the count computed
from the architecture (:func:`count_params`) must reproduce it within 2 % (tested).

Attention with grouped-query attention (GQA). Decoding one token with ``c`` tokens in the
cache performs ``4 n_layers n_heads head_dim`` FLOPs per cached token (``q.k`` and
``p.v``) and *reads* the cached keys and values, ``2 n_layers n_kv_heads head_dim`` values
per cached token. GQA shrinks the second term by ``n_heads / n_kv_heads``. The project's
§1 model has one attention width ``d_attn`` charging ``2 n_layers d_attn`` FLOPs per cached
token and no cache read; :func:`model_entry` folds both terms into an *effective* width

    d_attn = 2 n_heads head_dim + n_kv_heads head_dim * F / W

(``F`` FLOP/s, ``W`` values/s), which reproduces the time per cached token exactly and,
because ``e_mem / e_flop = F / W`` under the stated assumption, the energy per cached
token too. The schema change that would make the cache read explicit is described in
docs/model.md §13 (``models[].kv_values_per_token``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Accelerator:
    """Public peak specifications of one accelerator (docs/model.md §13).

    Attributes
    ----------
    name : str
        Catalogue name (config ``hardware.accelerator``).
    memory_bandwidth : float
        Peak HBM bandwidth [bytes/s].
    dense_bf16_flops : float
        Peak dense (no sparsity) BF16 tensor throughput [FLOP/s].
    board_power_w : float
        Maximum board power, TDP or TBP [W].
    memory_bytes : float
        HBM capacity [bytes].
    source : str
        Public document the numbers come from.
    idle_power_w : float
        Power of the powered, unloaded board at default clocks [W]. No data sheet states
        it; the value is the typical reading reported for the board, an assumption
        (docs/model.md §14 shows what it moves).
    """

    name: str
    memory_bandwidth: float
    dense_bf16_flops: float
    board_power_w: float
    memory_bytes: float
    source: str
    idle_power_w: float

    def energy_per_byte(self, power_fraction: float = 1.0) -> float:
        """Energy to move one byte from HBM [J/byte]: ``p TDP / bandwidth``."""
        return power_fraction * self.board_power_w / self.memory_bandwidth

    def energy_per_flop(self, power_fraction: float = 1.0) -> float:
        """Energy of one dense FLOP [J/FLOP]: ``p TDP / peak FLOP/s``."""
        return power_fraction * self.board_power_w / self.dense_bf16_flops


_NV = "NVIDIA"
ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator(
            "A100-SXM4-80GB",
            2.039e12,
            312e12,
            400.0,
            80e9,
            f"{_NV} A100 Tensor Core GPU datasheet (2021): 2,039 GB/s HBM2e, 312 TFLOPS "
            "BF16 tensor (dense), 400 W max TDP (SXM)",
            50.0,
        ),
        Accelerator(
            "H100-SXM5-80GB",
            3.35e12,
            989e12,
            700.0,
            80e9,
            f"{_NV} H100 Tensor Core GPU datasheet (2023): 3.35 TB/s HBM3, 1,979 TFLOPS "
            "BF16 tensor with sparsity (989 dense), up to 700 W (SXM)",
            70.0,
        ),
        Accelerator(
            "H200-SXM-141GB",
            4.8e12,
            989e12,
            700.0,
            141e9,
            f"{_NV} H200 Tensor Core GPU datasheet (2024): 4.8 TB/s HBM3e, 1,979 TFLOPS "
            "BF16 tensor with sparsity (989 dense), up to 700 W (SXM)",
            80.0,
        ),
        Accelerator(
            "MI300X",
            5.3e12,
            1307.4e12,
            750.0,
            192e9,
            "AMD Instinct MI300X accelerator data sheet (2023): 5.3 TB/s HBM3, 1,307.4 "
            "TFLOPS peak BF16 (dense), 750 W total board power",
            140.0,
        ),
        Accelerator(
            "L40S",
            864e9,
            362.05e12,
            350.0,
            48e9,
            f"{_NV} L40S datasheet (2023): 864 GB/s GDDR6, 733 TFLOPS BF16 tensor with "
            "sparsity (362 dense), 350 W max power",
            35.0,
        ),
    )
}


@dataclass(frozen=True)
class ModelArch:
    """Architecture of an open-weight decoder-only transformer (docs/model.md §13).

    Attributes
    ----------
    name : str
        Catalogue name (config ``models[].catalogue``).
    stated_params : float
        Parameter count stated on the model card [parameters].
    n_layers, hidden, intermediate, vocab : int
        Layers, hidden size, MLP intermediate size, vocabulary size [-].
    n_heads, n_kv_heads, head_dim : int
        Query heads, key-value heads (GQA groups), head dimension [-].
    tied_embeddings : bool
        Input and output embeddings share their weights.
    qkv_bias : bool
        The query, key and value projections have biases (Qwen2).
    source : str
        Where the numbers come from.
    """

    name: str
    stated_params: float
    n_layers: int
    hidden: int
    intermediate: int
    vocab: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    tied_embeddings: bool
    qkv_bias: bool
    source: str

    @property
    def kv_values_per_token(self) -> int:
        """Cached key and value entries per token, ``2 n_layers n_kv_heads head_dim`` [-]."""
        return 2 * self.n_layers * self.n_kv_heads * self.head_dim

    @property
    def attention_flops_per_token(self) -> int:
        """Attention FLOPs per cached token, ``4 n_layers n_heads head_dim`` [FLOP]."""
        return 4 * self.n_layers * self.n_heads * self.head_dim


def _hf(repo: str, stated: str) -> str:
    return f"Hugging Face model card and config.json of {repo} ({stated} parameters stated)"


MODELS: dict[str, ModelArch] = {
    m.name: m
    for m in (
        ModelArch(
            "Llama-3.2-1B",
            1.24e9,
            16,
            2048,
            8192,
            128256,
            32,
            8,
            64,
            True,
            False,
            _hf("meta-llama/Llama-3.2-1B", "1.24B"),
        ),
        ModelArch(
            "Llama-3.1-8B",
            8.03e9,
            32,
            4096,
            14336,
            128256,
            32,
            8,
            128,
            False,
            False,
            _hf("meta-llama/Llama-3.1-8B", "8.03B"),
        ),
        ModelArch(
            "Llama-3.1-70B",
            70.6e9,
            80,
            8192,
            28672,
            128256,
            64,
            8,
            128,
            False,
            False,
            _hf("meta-llama/Llama-3.1-70B", "70.6B"),
        ),
        ModelArch(
            "Mistral-7B-v0.3",
            7.25e9,
            32,
            4096,
            14336,
            32768,
            32,
            8,
            128,
            False,
            False,
            _hf("mistralai/Mistral-7B-v0.3", "7.25B"),
        ),
        ModelArch(
            "Qwen2.5-1.5B",
            1.54e9,
            28,
            1536,
            8960,
            151936,
            12,
            2,
            128,
            True,
            True,
            _hf("Qwen/Qwen2.5-1.5B", "1.54B"),
        ),
        ModelArch(
            "Qwen2.5-7B",
            7.61e9,
            28,
            3584,
            18944,
            152064,
            28,
            4,
            128,
            False,
            True,
            _hf("Qwen/Qwen2.5-7B", "7.61B"),
        ),
        ModelArch(
            "Qwen2.5-72B",
            72.7e9,
            80,
            8192,
            29568,
            152064,
            64,
            8,
            128,
            False,
            True,
            _hf("Qwen/Qwen2.5-72B", "72.7B"),
        ),
        ModelArch(
            "Qwen3-8B",
            8.19e9,
            36,
            4096,
            12288,
            151936,
            32,
            8,
            128,
            False,
            False,
            _hf("Qwen/Qwen3-8B", "8.2B"),
        ),
        ModelArch(
            "DeepSeek-R1-Distill-Qwen-7B",
            7.62e9,
            28,
            3584,
            18944,
            152064,
            28,
            4,
            128,
            False,
            True,
            _hf("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "7.62B"),
        ),
        ModelArch(
            "DeepSeek-R1-Distill-Qwen-32B",
            32.8e9,
            64,
            5120,
            27648,
            152064,
            40,
            8,
            128,
            False,
            True,
            _hf("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "32.8B"),
        ),
    )
}


def count_params(m: ModelArch) -> int:
    """Parameters implied by the architecture [parameters] (docs/model.md §13).

    Embeddings ``vocab hidden`` (twice when untied); per layer the query and output
    projections ``2 hidden n_heads head_dim``, the key and value projections
    ``2 hidden n_kv_heads head_dim`` (plus their biases with ``qkv_bias``), the gated MLP
    ``3 hidden intermediate`` and two RMSNorm weight vectors; one final norm.

    >>> count_params(MODELS["Llama-3.1-8B"])
    8030261248
    """
    q_dim, kv_dim = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    attn = 2 * m.hidden * q_dim + 2 * m.hidden * kv_dim
    if m.qkv_bias:
        attn += q_dim + 2 * kv_dim
    layer = attn + 3 * m.hidden * m.intermediate + 2 * m.hidden
    embed = m.vocab * m.hidden * (1 if m.tied_embeddings else 2)
    return int(embed + m.n_layers * layer + m.hidden)


def _lookup(table: dict, name: str, what: str):
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; the catalogue has {', '.join(table)}")
    return table[name]


def devices_needed(model: str, accelerator: str, bytes_per_param: float = 2.0) -> int:
    """Devices to hold a model's weights with 20 % headroom, rounded up to a power of 2."""
    m, a = _lookup(MODELS, model, "model"), _lookup(ACCELERATORS, accelerator, "accelerator")
    n = math.ceil(1.2 * m.stated_params * bytes_per_param / a.memory_bytes)
    return 2 ** math.ceil(math.log2(max(n, 1)))


def hardware_section(
    accelerator: str,
    power_fraction: float = 1.0,
    bytes_per_param: float = 2.0,
    n_devices: int = 1,
) -> dict:
    """Config ``hardware`` section of an accelerator (docs/model.md §1, §13).

    ``e_mem = bytes_per_param p TDP / bandwidth`` [J/parameter],
    ``e_flop = p TDP / F`` [J/FLOP], ``bandwidth = n_devices bandwidth / bytes_per_param``
    [parameters/s], ``throughput = n_devices F`` [FLOP/s]. Tensor parallelism over
    ``n_devices`` divides the time and leaves the energy per parameter and FLOP unchanged
    (each device streams and computes its share at the same energy per unit).
    """
    a = _lookup(ACCELERATORS, accelerator, "accelerator")
    if not (power_fraction > 0 and bytes_per_param > 0 and n_devices >= 1):
        raise ValueError("power_fraction and bytes_per_param must be > 0, n_devices >= 1")
    return {
        "e_mem": bytes_per_param * a.energy_per_byte(power_fraction),
        "e_flop": a.energy_per_flop(power_fraction),
        "bandwidth": n_devices * a.memory_bandwidth / bytes_per_param,
        "throughput": n_devices * a.dense_bf16_flops,
    }


def model_entry(
    model: str,
    hardware: dict,
    name: str | None = None,
    attention: str = "effective",
) -> dict:
    """Config ``models`` entry of a catalogue model (docs/model.md §1, §13).

    Parameters
    ----------
    model : str
        Catalogue model name.
    hardware : dict
        The ``hardware`` section it runs on (for the effective attention width).
    name : str, optional
        Config name; default the catalogue name.
    attention : str
        ``effective`` (default): ``d_attn = 2 n_heads head_dim + n_kv_heads head_dim F/W``,
        the GQA cache read folded in (exact time, and exact energy when
        ``e_mem / e_flop = F / W`` as :func:`hardware_section` gives);
        ``flops``: ``d_attn = 2 n_heads head_dim``, the attention FLOPs only (paper eq. 40);
        ``explicit``: the FLOPs-only width plus ``kv_values_per_token`` for the schema
        extension of docs/model.md §13.

    Returns
    -------
    dict
        ``name``, ``params`` (stated count), ``n_layers``, ``d_attn`` (and
        ``kv_values_per_token`` when explicit).
    """
    m = _lookup(MODELS, model, "model")
    flops_width = 2 * m.n_heads * m.head_dim
    entry = {"name": name or m.name, "params": float(m.stated_params), "n_layers": m.n_layers}
    if attention == "flops":
        entry["d_attn"] = flops_width
    elif attention == "explicit":
        entry.update(d_attn=flops_width, kv_values_per_token=m.kv_values_per_token)
    elif attention == "effective":
        ratio = hardware["throughput"] / hardware["bandwidth"]
        entry["d_attn"] = round(flops_width + m.n_kv_heads * m.head_dim * ratio)
    else:
        raise ValueError(f"attention must be effective, flops or explicit, got {attention!r}")
    return entry


def expand_config(cfg: dict) -> dict:
    """Resolve catalogue names in a validated config into explicit values (docs/model.md §13).

    ``hardware.accelerator`` (with optional ``power_fraction``, ``bytes_per_param``,
    ``n_devices``; ``n_devices: null`` = enough devices for the largest catalogue model)
    replaces ``e_mem``, ``e_flop``, ``bandwidth`` and ``throughput``; a ``models`` entry
    with ``catalogue: <model>`` gets ``params``, ``n_layers`` and the effective
    ``d_attn``. Without these keys the config is returned unchanged (the paper's abstract
    scenario). The input is not modified.
    """
    hw = dict(cfg.get("hardware", {}))
    models = [dict(m) for m in cfg.get("models", [])]
    accel = hw.pop("accelerator", None)
    opts = {k: hw.pop(k) for k in ("power_fraction", "bytes_per_param", "n_devices") if k in hw}
    if accel is None and not any("catalogue" in m for m in models):
        return cfg
    out = dict(cfg)
    if accel is not None:
        bpp = opts.get("bytes_per_param", 2.0)
        n_dev = opts.get("n_devices")
        if n_dev is None:
            n_dev = max(
                [devices_needed(m["catalogue"], accel, bpp) for m in models if "catalogue" in m]
                or [1]
            )
        hw = hardware_section(accel, opts.get("power_fraction", 1.0), bpp, int(n_dev))
    out["hardware"] = hw
    resolved = []
    for m in models:
        if "catalogue" in m:
            entry = model_entry(m["catalogue"], hw, name=m.get("name"))
            resolved.append(entry)
        else:
            resolved.append(m)
    out["models"] = resolved
    return out


def accelerator_table():
    """The accelerator catalogue with derived energies, as a pandas DataFrame."""
    import pandas as pd

    rows = []
    for a in ACCELERATORS.values():
        row = asdict(a)
        row.update(
            energy_per_byte_pJ=1e12 * a.energy_per_byte(),
            energy_per_flop_pJ=1e12 * a.energy_per_flop(),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def model_table():
    """The model catalogue with computed parameters, as a pandas DataFrame."""
    import pandas as pd

    rows = []
    for m in MODELS.values():
        row = asdict(m)
        row.update(
            computed_params=count_params(m),
            kv_values_per_token=m.kv_values_per_token,
            gqa_ratio=m.n_heads // m.n_kv_heads,
        )
        rows.append(row)
    return pd.DataFrame(rows)
