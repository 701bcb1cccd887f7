"""A float32 model fed float64 computes in float64 on every path: offline, any chunking,
the compiled short-chunk steps (causal and lookahead) and Winograd included.

The oracles are the published equations written out in float64 numpy (a causal dilated
conv as a sum over taps, then the TCN block of Bai et al. and the gated WaveNet layer of
van den Oord et al.), on the model's float32 weights widened to float64. A path that
rounded anything to float32 would be off by ~1e-8 of the output's scale; the contract's
float64 tolerance is 1e-12.
"""

import numpy as np
from helpers import TOL
from hypothesis import given, settings
from hypothesis import strategies as st

from wavedil.engine.stream import run_stream
from wavedil.models.stack import TCN, WaveNet


def float32_params(model_class, *args, **kwargs):
    """``model_class(*args, **kwargs)`` with its random weights rounded to float32."""
    params = {k: v.astype(np.float32) for k, v in model_class(*args, **kwargs).params.items()}
    return model_class(*args, **kwargs, params=params)


def conv(x, w, b, dilation):
    """Causal dilated conv in float64: ``y[n] = b + sum_t w[:, :, t] x[n - d (K-1-t)]``.

    Shape: ``x`` ``(B, C_in, T)``, ``w`` ``(C_out, C_in, K)``; ``(B, C_out, T)`` out.
    """
    w = w.astype(np.float64)
    k, n = w.shape[2], x.shape[-1]
    y = np.zeros((x.shape[0], w.shape[0], n)) + (0 if b is None else b[:, None])
    for t in range(k):
        lag = dilation * (k - 1 - t)
        if lag < n:
            y[..., lag:] += np.einsum("oc,bcn->bon", w[:, :, t], x[..., : n - lag])
    return y


def ahead(x, w, b, dilation, right):
    """A conv that looks ``right`` samples ahead (DESIGN.md: ``right`` zeros after the
    signal): the causal conv of the padded signal, ``right`` samples later."""
    padded = np.concatenate([x, np.zeros(x.shape[:2] + (right,))], -1)
    return conv(padded, w, b, dilation)[..., right:]


def relu(x):
    return np.maximum(x, 0)


def tcn_reference(model, x):
    c, p = model.config, {k: v.astype(np.float64) for k, v in model.params.items()}
    centered = c.get("alignment") == "centered"
    for i, d in enumerate(c["dilations"]):
        right = (c["kernel_size"] - 1) * d // 2 if centered else 0
        h = relu(ahead(x, p[f"blocks.{i}.conv1.weight"], p[f"blocks.{i}.conv1.bias"], d, right))
        h = relu(ahead(h, p[f"blocks.{i}.conv2.weight"], p[f"blocks.{i}.conv2.bias"], d, right))
        if f"blocks.{i}.downsample.weight" in p:
            x = conv(x, p[f"blocks.{i}.downsample.weight"], p[f"blocks.{i}.downsample.bias"], 1)
        x = relu(h + x)
    if "head.weight" in p:
        x = conv(x, p["head.weight"], p["head.bias"], 1)
    return x


def wavenet_reference(model, x):
    c, p = model.config, {k: v.astype(np.float64) for k, v in model.params.items()}
    half, skips = c["gate_channels"] // 2, 0
    h = conv(x, p["input_conv.weight"], p["input_conv.bias"], 1)
    for i, d in enumerate(c["dilations"]):
        a = conv(h, p[f"layers.{i}.conv.weight"], p[f"layers.{i}.conv.bias"], d)
        z = np.tanh(a[:, :half]) / (1 + np.exp(-a[:, half:]))
        skips = skips + conv(z, p[f"layers.{i}.skip.weight"], p[f"layers.{i}.skip.bias"], 1)
        if f"layers.{i}.res.weight" in p:
            h = h + conv(z, p[f"layers.{i}.res.weight"], p[f"layers.{i}.res.bias"], 1)
    y = relu(conv(relu(skips), p["head1.weight"], p["head1.bias"], 1))
    return conv(y, p["head2.weight"], p["head2.bias"], 1)


MODELS = {
    "tcn": (float32_params(TCN, 2, [5, 4, 4], kernel_size=3, dilations=[1, 2, 16],
                           out_channels=2, seed=11), tcn_reference),
    "tcn_k2": (float32_params(TCN, 3, 4, kernel_size=2, dilations=[1, 3], seed=12),
               tcn_reference),
    "tcn_centered": (float32_params(TCN, 2, [5, 4, 4], kernel_size=3, dilations=[1, 2, 16],
                                    out_channels=2, alignment="centered", seed=14),
                     tcn_reference),  # short chunks: the lookahead step
    "wavenet": (float32_params(WaveNet, 1, 6, 8, 5, kernel_size=3, dilations=[1, 2, 8],
                               seed=13), wavenet_reference),
}


def within_float64(y, reference):
    assert y.dtype == np.float64
    scale = np.abs(reference).max()
    assert np.abs(y - reference).max() <= TOL[np.float64] * scale, \
        np.abs(y - reference).max() / scale


def test_float32_weights_stay_float32():
    for model, _ in MODELS.values():
        assert all(v.dtype == np.float32 for v in model.params.values())


def test_offline_float64_input_computes_in_float64():
    rng = np.random.default_rng(0)
    for model, reference in MODELS.values():
        x = rng.standard_normal((2, model.in_channels, 700))
        within_float64(model(x), reference(model, x))
        within_float64(model(x[:1], workers=2), reference(model, x[:1]))


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)),
       sizes=st.lists(st.one_of(st.integers(0, 9), st.sampled_from([32, 64, 96, 128, 512])),
                      min_size=1, max_size=6),
       seed=st.integers(0, 2**32 - 1))
def test_any_chunking_of_float64_input_computes_in_float64(name, sizes, seed):
    """Chunks of 32 and more in whole Winograd tiles, short chunks, and a mix."""
    model, reference = MODELS[name]
    x = np.random.default_rng(seed).standard_normal((1, model.in_channels, 300))
    if not any(sizes):
        sizes = sizes + [1]
    within_float64(run_stream(model, x, sizes), reference(model, x))
