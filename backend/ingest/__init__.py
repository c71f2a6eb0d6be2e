"""Ingest of source images: finding files, refusing unsuitable ones, preparing PNG copies.

Everything here is pure and database-free (paper, section 3.1): the caller stores the original
bytes unchanged and the prepared PNG returned by :func:`backend.ingest.prepare.prepare_image`.
"""
