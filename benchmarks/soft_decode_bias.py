"""Bias of the differentiable (soft) decoders on exact targets.

Encodes the demo poses (:func:`jaxcodecs.examples.demo_keypoints`: the sample
COCO-17 poses in the central 70% of a 192x256 input, sub-pixel jitter) with
``mmpose_compat=False`` targets centred on the sub-pixel keypoints, decodes
them with each soft method, and reports the mean / max error in input
pixels over the visible keypoints:

* heatmaps: ``IntegralRegressionLabel(unbiased=True)``, 48x64, sigma 2;
  IPR and DSNT on the normalised targets, soft-argmax for several beta on
  targets with peak 1 (``normalize=False``, the scale of a logit map);
* SimCC: ``SimCCLabel`` (split ratio 2, normalised labels) for several
  sigma; IPR, and soft-argmax for several beta (``None``: the codec's
  default ``decode_beta * sigma``).

Soft-argmax is biased both ways: a small beta leaves mass on the whole map
and pulls the result toward the map centre; a large beta approaches the
hard argmax and its quantisation. The result goes to
``benchmarks/results/soft_decode_bias.json``::

    python benchmarks/soft_decode_bias.py
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np

import jaxcodecs
from jaxcodecs.examples import demo_keypoints

INPUT = (192, 256)
RESULTS = Path(__file__).resolve().parent / "results" / "soft_decode_bias.json"


def _errors(decoded, keypoints, visible) -> dict:
    err = np.abs(np.asarray(decoded)[:, 0] - keypoints).max(-1)[visible > 0]
    return {"mean_px": float(err.mean()), "max_px": float(err.max())}


def heatmap_rows(keypoints, visible) -> list[dict]:
    rows = []
    for normalize, methods in (
        (True, [("ipr", None), ("dsnt", None)]),
        (False, [("soft_argmax", b) for b in (1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)]),
    ):
        codec = jaxcodecs.IntegralRegressionLabel(
            INPUT, (48, 64), sigma=2.0, unbiased=True, normalize=normalize, mmpose_compat=False
        )
        heatmaps = jax.jit(jax.vmap(codec.encode))(keypoints[:, None], visible[:, None])["heatmaps"]
        for method, beta in methods:
            decode = jax.jit(jax.vmap(lambda h, m=method, b=beta: codec.decode_heatmaps(h, method=m, beta=b or 1.0)))
            rows.append({"target": "heatmap 48x64 sigma 2", "normalize": normalize, "method": method,
                         "beta": beta, **_errors(decode(heatmaps)[0], keypoints, visible)})
    return rows


def simcc_rows(keypoints, visible) -> list[dict]:
    rows = []
    for sigma in (2.0, 4.0, 6.0):
        codec = jaxcodecs.SimCCLabel(INPUT, sigma=sigma, mmpose_compat=False)
        enc = jax.jit(jax.vmap(codec.encode))(keypoints[:, None], visible[:, None])
        labels = (enc["keypoint_x_labels"], enc["keypoint_y_labels"])
        methods = [("ipr", None)] + [("soft_argmax", b) for b in (10.0, 100.0, 300.0, 1000.0, None)]
        for method, beta in methods:
            decode = jax.jit(jax.vmap(lambda x, y, m=method, b=beta: codec.decode_soft(x, y, method=m, beta=b)))
            rows.append({"target": f"simcc ratio 2 sigma {sigma:g}", "normalize": True, "method": method,
                         "beta": "decode_beta*sigma" if (method == "soft_argmax" and beta is None) else beta,
                         **_errors(decode(*labels)[0], keypoints, visible)})
    return rows


def main() -> None:
    keypoints, visible = demo_keypoints(64, INPUT, seed=0)
    rows = heatmap_rows(keypoints, visible) + simcc_rows(keypoints, visible)
    print(f"{'target':<26} {'method':<12} {'beta':>17} {'mean px':>9} {'max px':>9}")
    for row in rows:
        beta = "" if row["beta"] is None else str(row["beta"])
        print(f"{row['target']:<26} {row['method']:<12} {beta:>17} {row['mean_px']:9.4f} {row['max_px']:9.4f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"poses": "demo_keypoints(64, 192x256, seed 0), visible only",
                                   "jax_version": jax.__version__, "rows": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
