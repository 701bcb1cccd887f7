"""Receptive field and effective receptive field of a TCN
======================================================

How far does a TCN see? The keras-tcn receptive-field question answered in numbers.

Run::

    python examples/receptive_field.py [--output out/receptive_field_erf.png] [--small]

1. the formula: keras-tcn's residual blocks hold TWO dilated convs, so with kernel K,
   dilations d_i and S stacks the receptive field is 1 + 2 (K - 1) S sum(d_i), not the
   1 + (K - 1) S sum(d_i) that counting one conv per block gives;
2. the per-layer table of ``wavedil.receptive_field``;
3. the measurement agreeing: the input-gradient support of pytorch-tcn's ``TCN`` (traced
   with torch.fx) and the impulse response of wavedil's numpy ``TCN``;
4. gridding: kernel 2 with dilations 1, 4, 16 leaves lags that no path reaches;
5. the planner's gap-free schedules for half a second at 16 kHz;
6. the effective receptive field (Luo et al. 2016): how much of the extent matters,
   written as a PNG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from pytorch_tcn import TCN as PytorchTCN

from wavedil.models.stack import TCN
from wavedil.plot import plot_effective_receptive_field
from wavedil.receptive.field import receptive_field
from wavedil.receptive.planning import plan_dilations
from wavedil.receptive.probe import effective_receptive_field, probe_receptive_field


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out/receptive_field_erf.png",
                        help="where to write the effective-receptive-field plot")
    parser.add_argument("--small", action="store_true", help="fewer channels and trials")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rate, kernel, dilations = 16000, 3, [1, 2, 4, 8, 16, 32, 64]
    channels, trials = (4, 4) if args.small else (16, 32)

    print("1. the formula (keras-tcn, K = 3, dilations 1..64, one stack)")
    formula = 1 + 2 * (kernel - 1) * 1 * sum(dilations)
    one_conv = 1 + (kernel - 1) * sum(dilations)
    print(f"   1 + 2 (K-1) nb_stacks sum(d) = 1 + 2*2*1*{sum(dilations)} = {formula} samples"
          f" ({formula / rate * 1000:.1f} ms at {rate} Hz)")
    print(f"   counting one conv per block would give {one_conv}: the usual confusion")

    print("\n2. the table")
    rf = receptive_field(kernel_size=kernel, dilations=dilations, convs_per_block=2,
                         channels=channels, sample_rate=rate)
    print(rf)

    print("\n3. measured")
    # tanh: a ReLU switches paths off for a given input, and a gradient sees only live paths
    theirs = PytorchTCN(1, [channels] * len(dilations), kernel_size=kernel,
                        dilations=dilations, dropout=0.0, activation="tanh")
    traced = receptive_field(theirs, example_input=torch.zeros(1, 1, 2 * formula))
    probe = probe_receptive_field(theirs, 2 * formula, trials=3)
    print(f"   pytorch-tcn TCN, traced: {traced.size} samples (past {traced.left}, lookahead"
          f" {traced.right}); input-gradient support: {probe.size} samples (past "
          f"{probe.left}, lookahead {probe.right})")
    ours = TCN(1, [channels] * len(dilations), kernel_size=kernel, dilations=dilations)
    impulse = probe_receptive_field(ours, 2 * formula, shape=(1, 1, 2 * formula))
    print(f"   wavedil numpy TCN: spec {receptive_field(ours).size} samples; impulse "
          f"response {impulse.size} samples")

    print("\n4. gridding: kernel 2, dilations 1, 4, 16")
    grid = receptive_field(kernel_size=2, dilations=[1, 4, 16])
    print(f"   extent {grid.size} samples, but {len(grid.gaps)} lags are never read: "
          f"{list(grid.gaps)}")

    print("\n5. plans for 0.5 s at 16 kHz, kernel 3")
    plan = plan_dilations(seconds=0.5, sample_rate=rate, kernel_size=kernel,
                          channels=channels, max_candidates=5)
    print(plan)

    print("\n6. effective receptive field")
    erf = effective_receptive_field(theirs, 2 * formula, trials=trials)
    lo, hi = erf.mass_interval(0.95)
    print(f"   95% of the gradient magnitude lies in lags {lo}..{hi}: {hi - lo + 1} of the "
          f"{traced.size} samples of the receptive field")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_effective_receptive_field(
        erf, traced, log=True, title="pytorch-tcn TCN, K=3, dilations 1..64 (untrained)")
    fig.savefig(output, dpi=100)
    print(f"   plot: {output}")
    return {"formula": formula, "table": rf, "traced": traced, "probe": probe,
            "impulse": impulse, "gaps": grid.gaps, "plan": plan, "erf": erf}


if __name__ == "__main__":
    main()
