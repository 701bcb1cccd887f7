"""A live multiband compressor
===========================

A live multiband compressor: à trous analysis, a compressor per band, synthesis.

Run::

    python examples/live_bands.py [--input data/guitar.wav] [--seconds S] [--output F.wav]

The shipped guitar (``data/guitar.wav``, 16 kHz) goes through ``wavedil.ResynthesisStream``
in chunks of 256 samples: the causal sym4 analysis, ``BandCompressor`` on every chunk of
coefficients (per band: an RMS envelope that runs across chunks, a gain above a threshold,
a make-up gain), and the synthesis. The script prints the latency in samples and ms, the
level spread of 50 ms frames before and after and the level of every band, and checks the live
output against the same chain run offline in one go (``wavedil.atrous`` of the signal
followed by ``latency`` zeros, the compressor on all of it, ``wavedil.iatrous``). Its
figures (drawn in the gallery) show the input and the output with the gain the compressor
applied on every band over time, and the scalograms (``wavedil.plot.plot_scalogram``) of
the input and the output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

import wavedil
from wavedil.wavelets.transform import AtrousResult

DATA = Path(__file__).resolve().parent.parent / "data"


class BandCompressor:
    """A compressor per band and channel, on coefficients ``(levels + 1, ..., m)``.

    The envelope is the band's mean square through a one-pole lowpass of time constant
    ``time`` samples (its state carries over from chunk to chunk); above ``threshold`` the
    band's gain falls by ``1 - 1/ratio`` dB per dB, then ``makeup[k]`` multiplies band k.
    """

    def __init__(self, threshold: float, ratio: float, time: float, makeup) -> None:
        self.threshold, self.ratio = threshold, ratio
        self.pole = float(np.exp(-1 / time))
        self.makeup = np.asarray(makeup, np.float64)
        self.zi: np.ndarray | None = None  # the envelope filters' state

    def gain(self, c: np.ndarray) -> np.ndarray:
        """The compressor's gain (before make-up) on every coefficient of ``c``, same shape;
        moves the envelope on."""
        zi = np.zeros(c.shape[:-1] + (1,)) if self.zi is None else self.zi
        envelope, self.zi = lfilter([1 - self.pole], [1, -self.pole], c**2, axis=-1, zi=zi)
        over = np.maximum(envelope, self.threshold**2) / self.threshold**2
        return over ** ((1 / self.ratio - 1) / 2)  # -(1 - 1/ratio) dB per dB over

    def process(self, c: np.ndarray) -> np.ndarray:
        makeup = self.makeup.reshape((-1,) + (1,) * (c.ndim - 1))
        return c * self.gain(c) * makeup

    def reset(self) -> None:
        self.zi = None

    def state_dict(self) -> dict[str, np.ndarray]:
        return {} if self.zi is None else {"zi": self.zi.copy()}

    def load_state_dict(self, state) -> None:
        self.zi = np.array(state["zi"]) if "zi" in state else None


def offline_chain(x: np.ndarray, wavelet: str, levels: int, compressor: BandCompressor,
                  latency: int) -> np.ndarray:
    """The chain in one go: the causal transform of x and ``latency`` zeros, the compressor,
    the inverse (periodic: it reads only ahead, the zeros after the end keep it off the
    start), cropped to x."""
    padded = np.concatenate([x, np.zeros(latency)])
    c = compressor.process(wavedil.atrous(padded, wavelet, levels, boundary="zero").stack())
    c = np.concatenate([c, np.zeros((levels + 1, latency))], axis=-1)
    bank = wavedil.filter_bank(wavelet)
    return wavedil.iatrous(AtrousResult(c[:-1], c[-1], bank, "causal", "periodic", False,
                                        -1))[: x.size]


def db(value: float) -> float:
    return float(20 * np.log10(max(value, 1e-12)))


def rms(s: np.ndarray) -> float:
    return float(np.sqrt(np.mean(s**2))) if s.size else 0.0


def level_spread(s: np.ndarray, rate: int) -> float:
    """The dynamics a compressor narrows: the 90th minus the 10th percentile of the levels
    (dB) of 50 ms frames, over the frames within 60 dB of the loudest."""
    n = int(0.05 * rate)
    frames = s[: s.size // n * n].reshape(-1, n)
    if not len(frames):
        return 0.0
    levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)
    levels = levels[levels > levels.max() - 60]
    return float(np.percentile(levels, 90) - np.percentile(levels, 10))


def draw(x: np.ndarray, y: np.ndarray, wavelet: str, levels: int, gain: np.ndarray,
         rate: int) -> None:
    """Two figures: input and output with the gain of every band over time; the à trous
    scalograms of input and output (``wavedil.plot``)."""
    import matplotlib.pyplot as plt

    from wavedil.plot import plot_scalogram

    hop = max(1, int(0.01 * rate))  # 10 ms bins
    bins = x.size // hop
    t = (np.arange(bins) + 0.5) * hop / rate
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.4), sharex=True,
                                      layout="constrained")
    for s, color, label in [(x, "0.65", "input"), (y, "C3", "compressed, live")]:
        frames = s[: bins * hop].reshape(bins, hop)
        top.fill_between(t, frames.min(axis=1), frames.max(axis=1), color=color, lw=0,
                         alpha=0.8 if s is y else 1.0, label=label)
    top.set(ylabel="amplitude", title=f"live multiband compressor ({wavelet}, {levels} "
                                      f"levels): input and output, same time axis")
    top.legend(loc="upper right", fontsize=8)
    reduction = 20 * np.log10(gain[:, : bins * hop].reshape(levels + 1, bins, hop).min(axis=2))
    names = [f"w{j}" for j in range(1, levels + 1)] + [f"c{levels}"]
    colors = plt.cm.viridis(np.linspace(0, 0.9, levels + 1))
    for row, name, color in zip(reduction, names, colors):
        bottom.plot(t, row, color=color, lw=1, label=name)
    bottom.set(xlabel="time (s)", ylabel="gain (dB)",
               title="the compressor's gain on every band (before make-up), 10 ms minima")
    bottom.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    bottom.margins(x=0)

    fig, axes = plt.subplots(2, 1, figsize=(8, 5.6), sharex=True, layout="constrained")
    for ax, s, what in [(axes[0], x, "input"), (axes[1], y, "compressed, live")]:
        plot_scalogram(wavedil.atrous(s, wavelet, levels, boundary="zero"), rate, ax=ax,
                       title=f"{what}: à trous scalogram ({wavelet}, causal)")
    axes[0].set_xlabel("")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATA / "guitar.wav"))
    parser.add_argument("--seconds", type=float, default=None, help="only the first S seconds")
    parser.add_argument("--wavelet", default="sym4")
    parser.add_argument("--levels", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=256)
    parser.add_argument("--output", default=None, help="write the compressed audio here")
    args = parser.parse_args(argv)

    x, rate = sf.read(args.input, dtype="float64")
    x = x if x.ndim == 1 else x.mean(axis=1)
    if args.seconds:
        x = x[: int(args.seconds * rate)]

    def compressor() -> BandCompressor:  # 4:1 above -26 dB, 3.5 dB make-up, brighter highs
        makeup = 1.5 * np.r_[np.linspace(1.4, 1.0, args.levels), 1.0]
        return BandCompressor(threshold=0.05, ratio=4.0, time=0.005 * rate, makeup=makeup)

    stream = wavedil.ResynthesisStream(args.wavelet, args.levels, compressor())
    print(f"{Path(args.input).name}: {x.size / rate:.2f} s at {rate} Hz, {args.wavelet}, "
          f"{args.levels} levels, chunks of {args.chunk}")
    print(f"latency {stream.latency} samples = {1000 * stream.latency / rate:.1f} ms")
    parts = [stream.process(x[i : i + args.chunk]) for i in range(0, x.size, args.chunk)]
    y = np.concatenate(parts + [stream.flush()])

    for name, s in [("input", x), ("compressed", y)]:
        print(f"  {name:<10} peak {db(np.max(np.abs(s))):6.1f} dB, RMS {db(rms(s)):6.1f} dB, "
              f"level spread {level_spread(s, rate):4.1f} dB")
    before = wavedil.atrous(x, args.wavelet, args.levels, boundary="zero").stack()
    after = wavedil.atrous(y, args.wavelet, args.levels, boundary="zero").stack()
    names = [f"w{j}" for j in range(1, args.levels + 1)] + [f"c{args.levels}"]
    print("  band RMS (dB) " + " ".join(f"{n:>6}" for n in names))
    print("    input       " + " ".join(f"{db(rms(b)):6.1f}" for b in before))
    print("    compressed  " + " ".join(f"{db(rms(b)):6.1f}" for b in after))

    expected = offline_chain(x, args.wavelet, args.levels, compressor(), stream.latency)
    error = float(np.max(np.abs(y - expected), initial=0.0))
    verdict = "EQUAL" if error <= 1e-12 * max(1.0, float(np.max(np.abs(expected)))) else \
        "DIFFERENT"
    print(f"live vs offline chain: max |difference| = {error:.2e} ({verdict})")
    draw(x, y, args.wavelet, args.levels, compressor().gain(before), rate)
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        sf.write(output, np.clip(y, -1, 1), rate, subtype="PCM_16")
        print(f"wrote {output}")
    return 0 if verdict == "EQUAL" else 1


if __name__ == "__main__":
    if main():  # the gallery runs this in its own process: exit only on a failure
        raise SystemExit(1)
