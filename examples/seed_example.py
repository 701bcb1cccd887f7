"""The seed example, with the dilated kernel drawn
================================================

The seed article's worked example: a 3x3 kernel at dilation 3 on a 9x9 matrix.

Run: python examples/seed_example.py (prints the matrices; its figure, drawn in the
gallery, shows them with the kernel's taps placed 3 apart, zeros between)
"""

import numpy as np
import scipy.signal

from wavedil import dilate_kernel, dilated_convolve


def main() -> np.ndarray:
    matrix = np.zeros((9, 9))
    matrix[3:6, 4:7] = 1.0  # ones at rows 3-5, columns 4-6
    kernel = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=float)
    dilated = dilate_kernel(kernel, 3)
    result = dilated_convolve(matrix, kernel, dilation=3, mode="valid")
    reference = scipy.signal.convolve2d(matrix, dilated, mode="valid")
    np.set_printoptions(linewidth=120)
    print("input matrix (9x9):", matrix.astype(int), sep="\n")
    print("dilated kernel (7x7), dilation 3:", dilated.astype(int), sep="\n")
    print("dilated_convolve(matrix, kernel, 3, 'valid') (3x3):", result, sep="\n")
    print("equal to scipy.signal.convolve2d with the dilated kernel:",
          np.array_equal(result, reference))
    draw({"input (9x9)": matrix, "kernel (3x3)": kernel,
          "dilated kernel (7x7), dilation 3": dilated, "output, mode 'valid' (3x3)": result})
    return result


def draw(panels: dict) -> None:
    """The matrices side by side, each cell labelled with its value (a pyplot figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.4), layout="constrained")
    for ax, (title, values) in zip(axes, panels.items()):
        ax.imshow(values, cmap="Blues", vmin=0, vmax=2 * max(values.max(), 1))
        for (row, col), value in np.ndenumerate(values):
            ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=8)
        ax.set(title=title, xticks=[], yticks=[])


if __name__ == "__main__":
    main()
