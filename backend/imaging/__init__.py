"""Pixel-level helpers shared by the web app and the workers (numpy and libvips only:
nothing here imports torch or OpenCV)."""
