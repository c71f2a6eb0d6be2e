"""The codec layer: one interface, one registry (paper, section 3.1: codecs C1–C6).

Importing this package loads neither torch nor CompressAI; neural codecs import them when built.
"""

from workers.codecs.base import Availability, Codec, EncodeResult
from workers.codecs.errors import (
    BitstreamError,
    CodecError,
    CodecUnavailableError,
    CorruptCheckpointError,
    ExternalProgramError,
    ExternalTimeoutError,
    ImageTooSmallError,
    InvalidImageError,
    NotImplementedCodecError,
    WeightsMissingError,
)
from workers.codecs.rate import RateSpec, encode_setting, rate_match
from workers.codecs.registry import (
    availability,
    build_codec,
    entries,
    get_entry,
    registry_table,
)

__all__ = [
    "Availability",
    "BitstreamError",
    "Codec",
    "CodecError",
    "CodecUnavailableError",
    "CorruptCheckpointError",
    "EncodeResult",
    "ExternalProgramError",
    "ExternalTimeoutError",
    "ImageTooSmallError",
    "InvalidImageError",
    "NotImplementedCodecError",
    "RateSpec",
    "WeightsMissingError",
    "availability",
    "build_codec",
    "encode_setting",
    "entries",
    "get_entry",
    "rate_match",
    "registry_table",
]
