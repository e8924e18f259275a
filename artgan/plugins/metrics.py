"""Built-in metrics: fid, kid, is (FID Inception-v3) and ms-ssim (diversity, no weights)."""

from __future__ import annotations

from artgan import hookimpl
from artgan.metrics.options import FIDOptions, ISOptions, KIDOptions, MSSSIMOptions

_IMPL = "artgan.metrics"


@hookimpl
def register_metrics(register):
    register("fid", f"{_IMPL}.scores:FID",
             description="Frechet Inception Distance (Heusel et al. 2017) with pytorch-fid's "
                         "Inception weights; lower is better.",
             options=FIDOptions)
    register("kid", f"{_IMPL}.scores:KID",
             description="Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2, "
                         "cubic kernel, mean over subsets; lower is better.",
             options=KIDOptions)
    register("is", f"{_IMPL}.scores:InceptionScore",
             description="Inception Score (Salimans et al. 2016), mean over splits; higher is "
                         "better; needs no real images.",
             options=ISOptions, aliases=("inception-score",))
    register("ms-ssim", f"{_IMPL}.msssim:MSSSIM",
             description="Mean MS-SSIM of random pairs of generated images (AC-GAN "
                         "diversity); lower = more diverse; needs no weights.",
             options=MSSSIMOptions, aliases=("msssim",))
