"""Images per second of FID Inception feature extraction on one device.

    python bench/metrics_features.py --device auto --batch-size 64 --images 1024

The network is randomly initialised unless --weights PATH (the hash-checked FID
Inception file) is given: the architecture and the work are the same, so the timing is
representative, but the features are meaningless. Images are random, at --resolution,
and go through the same path as ``artgan eval`` (8-bit quantisation, resize to 299).
"""

from __future__ import annotations

import argparse
import time

import torch

from artgan.core.device import DeviceError, resolve_device
from artgan.evaluation.features import extract_features
from artgan.evaluation.image_sets import ImageSet
from artgan.metrics.inception import FIDInception, load_inception


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device(spec: str) -> torch.device:
    """artgan's device resolution; an unavailable device exits with its message."""
    try:
        return resolve_device(spec)
    except DeviceError as exc:
        raise SystemExit(f"error: {exc}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=None,
                        help="Images to time (default: 8 batches)")
    parser.add_argument("--resolution", type=int, default=64, help="Input side before resize")
    parser.add_argument("--weights", default=None,
                        help="Load this weights file instead of random init (hash-checked)")
    args = parser.parse_args()

    device = _device(args.device)
    if args.weights:
        net, what = load_inception(args.weights, device=device), "published weights"
    else:
        net, what = FIDInception().to(device), "RANDOM-INIT weights (timing only)"
    count = args.images or 8 * args.batch_size
    images = torch.rand(count, 3, args.resolution, args.resolution) * 2 - 1
    warmup = ImageSet.from_tensor(images[:args.batch_size], batch_size=args.batch_size)
    extract_features(warmup, net, device=device)  # cuDNN autotuning, allocations
    _sync(device)
    start = time.perf_counter()
    feats = extract_features(ImageSet.from_tensor(images, batch_size=args.batch_size), net,
                             device=device)
    _sync(device)
    seconds = time.perf_counter() - start
    print(f"FID Inception feature extraction, {what}")
    print(f"  device {device} ({torch.get_num_threads()} CPU threads), batch {args.batch_size}, "
          f"{count} images of {args.resolution}px -> 299px, pool {feats['pool'].shape[1]}-d")
    print(f"  {count / seconds:.1f} images/s ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
