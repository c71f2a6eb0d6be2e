"""Exceptions raised by the codec layer.

Every failure a codec can meet (missing weights or program, a corrupt checkpoint, an image the
codec cannot take, a crashing or hanging external program, a foreign bitstream) is a
:class:`CodecError`, so a worker can catch one type and record a readable reason.
"""

from __future__ import annotations


class CodecError(Exception):
    """Base class of all codec-layer errors."""


class CodecUnavailableError(CodecError):
    """The codec cannot run here; ``missing`` says what is missing and where to put it."""

    def __init__(self, message: str, missing: str = "") -> None:
        super().__init__(message)
        self.missing = missing or message


class WeightsMissingError(CodecUnavailableError):
    """A checkpoint file the codec needs is not in the weights folder."""


class NotImplementedCodecError(CodecUnavailableError):
    """The codec is registered (paper, section 3.1) but not implemented in this build."""


class CorruptCheckpointError(CodecError):
    """A checkpoint exists but its checksum, format or tensors are wrong."""


class InvalidImageError(CodecError):
    """The input is not an ``[H, W, 3]`` ``uint8`` array."""


class ImageTooSmallError(InvalidImageError):
    """The image is smaller than the smallest side the codec accepts."""


class DuplicateOutputError(CodecError):
    """Another job stores a reconstruction with the same pixels (the same blind name) right now,
    from another bitstream; the files under that name are left to it."""


class BitstreamError(CodecError):
    """A bitstream is truncated, foreign to this codec, or was made on another device type."""


class ExternalProgramError(CodecError):
    """An external codec program failed; the message carries its exit status and stderr."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class ExternalTimeoutError(ExternalProgramError):
    """An external codec program ran past its time-out and was killed."""
