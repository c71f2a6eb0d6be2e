"""Inter-labeler agreement on bounding boxes (paper, section 3.2.4 and appendix 2.4), and
between prescreening raters (Cohen's and Fleiss' κ, section 3.1).

Pure computation, no database: images and boxes go in, one :class:`GridResult` per grid size
comes out, with the four unit categories, total agreement and Krippendorff's α; category codes
go in and κ comes out.
"""

from backend.agreement.alpha import alpha_from_counts, alpha_from_reliability, bootstrap_interval
from backend.agreement.csvio import AgreementInput, read_agreement_input
from backend.agreement.kappa import cohen_kappa, fleiss_kappa
from backend.agreement.measure import (
    GridResult,
    Interval,
    UnitCategory,
    UnitMarkings,
    compute_agreement,
    proportion_interval,
    unit_markings,
)
from backend.agreement.units import (
    DEFAULT_GRIDS,
    AgreementInputError,
    Box,
    ImageSpec,
    UnitRule,
    box_units,
    tile_rect,
)

__all__ = [
    "DEFAULT_GRIDS",
    "AgreementInput",
    "AgreementInputError",
    "Box",
    "GridResult",
    "ImageSpec",
    "Interval",
    "UnitCategory",
    "UnitMarkings",
    "UnitRule",
    "alpha_from_counts",
    "alpha_from_reliability",
    "bootstrap_interval",
    "box_units",
    "cohen_kappa",
    "compute_agreement",
    "fleiss_kappa",
    "proportion_interval",
    "read_agreement_input",
    "tile_rect",
    "unit_markings",
]
