"""A coded job's result as a reconstruction row: so that a labeler sees each reconstruction once,
under one blind name, with what made it recorded beside it.

The codec pipeline has written the files (:func:`workers.codecs.pipeline.store_blind`); this
module adds the row for the job (:func:`store`), or says why it is not added: a job whose output
has the same bytes as another job's reconstruction (:func:`twin`) is not stored twice.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.models import CompressionJob, Reconstruction, SourceImage
from backend.services.images import add_reconstruction_row
from backend.services.store import store_root

if TYPE_CHECKING:
    from workers.codecs.results import CodedImage


def store(
    session: Session, source: SourceImage, job: CompressionJob, result: CodedImage
) -> Reconstruction | str:
    """The job's reconstruction row, or why it is not stored.

    A blind name is the SHA-1 of the reconstruction's file (paper, appendix 1.3; the IIIF
    identifier and the stored file's name), so it names one reconstruction. When a job's output
    has the same bytes as another reconstruction (a codec that gives the same pixels at its low
    and high setting, on a noise image say), the second job fails with that reason, naming the
    reconstruction it duplicates: a labeler would otherwise see one image twice as two items.
    The files on disk are the first reconstruction's, which this job's output is (the pipeline
    writes nothing over a blind name's files once they exist).
    """
    found = twin(session, result.blind_name, job)
    if found is None:
        try:
            return add_row(session, source, job, result)
        except IntegrityError:
            # Another job stored the same bytes between the check and the insert.
            session.rollback()
            found = twin(session, result.blind_name, job)
            if found is None:
                raise
    if (found.source_image_id, found.codec_id) == (source.id, job.codec_id):
        whose = f"the {found.setting.value} setting's reconstruction ({found.model_id})"
    elif found.source_image_id == source.id:
        whose = f"this source's {found.model_id} reconstruction"
    else:
        whose = f"reconstruction {found.model_id} of source image #{found.source_image_id}"
    return (
        f"identical to {whose} (same bytes, blind name {found.blind_name}): a blind name "
        "names one reconstruction, so this one is not stored"
    )


def twin(session: Session, blind_name: str, job: CompressionJob) -> Reconstruction | None:
    """Another job's reconstruction under ``blind_name``."""
    found = session.exec(select(Reconstruction).where(Reconstruction.blind_name == blind_name))
    return next(
        (
            recon
            for recon in found
            if (recon.source_image_id, recon.codec_id, recon.setting)
            != (job.source_image_id, job.codec_id, job.setting)
        ),
        None,
    )


def add_row(
    session: Session, source: SourceImage, job: CompressionJob, result: CodedImage
) -> Reconstruction:
    """The reconstruction row of ``job``, with what made it (commits)."""
    root = store_root()
    made = result.provenance  # the scores come later, from the cpu queue (measure)
    return add_reconstruction_row(
        session,
        source,
        codec_id=job.codec_id,
        setting=job.setting,
        blind_name=result.blind_name,
        png_relpath=_relative(result.reconstruction_path, root),
        bitstream_relpath=_relative(result.bitstream_path, root),
        width=result.width,
        height=result.height,
        measures={
            "bitstream_bytes": result.bitstream_bytes,
            "bpp": result.bpp,
            "encode_s": result.timings.encode_s,
            "decode_s": result.timings.decode_s,
            "device": made.device,
            "versions": dict(made.versions),
            "hardware": made.hardware,
            "weights_sha256": made.weights_sha256,
            "provenance": made.to_dict(),
            "params": {
                **result.params,
                "level": result.level,
                "target_bpp": result.target_bpp,
                "worker": socket.gethostname(),
            },
        },
    )


def _relative(path: Path, root: Path) -> str:
    return str(path.resolve().relative_to(root.resolve()))
