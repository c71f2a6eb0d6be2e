"""IIIF Image API 3.0 (level 2) for originals, reconstructions and their difference maps.

``TileService`` renders and caches; ``build_iiif_app`` exposes it under ``/iiif/3`` behind
the application's resolver, which alone decides who may see what.
"""

from backend.iiif.colormap import DEFAULT_DIFF_GAIN, DiffScale, legend_png, viridis_lut
from backend.iiif.models import (
    IIIFError,
    ImageSource,
    RenderedImage,
    ResolvedImage,
    Resolver,
)
from backend.iiif.routes import (
    IDENTIFIER_RE,
    IIIFApp,
    build_iiif_app,
    build_iiif_routes,
)
from backend.iiif.service import TileService

__all__ = [
    "DEFAULT_DIFF_GAIN",
    "IDENTIFIER_RE",
    "DiffScale",
    "IIIFApp",
    "IIIFError",
    "ImageSource",
    "RenderedImage",
    "ResolvedImage",
    "Resolver",
    "TileService",
    "build_iiif_app",
    "build_iiif_routes",
    "legend_png",
    "viridis_lut",
]
