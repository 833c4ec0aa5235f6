"""Synthetic, compressible pixel data, encoded once per frame as JPEG 2000 lossless.

JPEG 2000 encoding costs tens of milliseconds per frame, so a sample does not encode
every image: each modality has a small pool of distinct frames (a body section at a few
positions along the patient), and instances reuse the encoded bytes of the frame
nearest to their slice. The images are shapes with noise, sized so that a CT image
compresses to a couple of hundred kilobytes as real ones do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import JPEG2000Lossless

FloatImage = npt.NDArray[np.float64]
Grid = tuple[FloatImage, FloatImage]


@dataclass(frozen=True)
class FrameSpec:
    """The pixel layout and frame pool of one modality."""

    rows: int
    columns: int
    bits_stored: int
    pool: int
    draw: Callable[[Grid, float, np.random.Generator], FloatImage]


def _grid(rows: int, columns: int) -> Grid:
    """Return x and y coordinates running from -1 to 1 over the image."""
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float64)
    return x / (columns - 1) * 2 - 1, y / (rows - 1) * 2 - 1


def _ellipse(
    grid: Grid, cx: float, cy: float, rx: float, ry: float
) -> npt.NDArray[np.bool_]:
    """Return the mask of an axis-aligned ellipse."""
    x, y = grid
    inside: npt.NDArray[np.bool_] = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
    return inside


def _ct(grid: Grid, z: float, rng: np.random.Generator) -> FloatImage:
    """Draw an axial chest-abdomen CT slice in stored values (HU + 1024)."""
    x, _ = grid
    swell = np.sin(np.pi * z)
    hu = np.full(x.shape, -1000.0)
    hu[_ellipse(grid, 0, 0.05, 0.80 + 0.05 * swell, 0.58 + 0.04 * swell)] = -90.0
    hu[_ellipse(grid, 0, 0.05, 0.73 + 0.05 * swell, 0.51 + 0.04 * swell)] = 40.0
    lung = max(0.05, 0.9 - z)
    for side in (-1.0, 1.0):
        hu[
            _ellipse(grid, side * 0.33, -0.02, 0.24 * lung + 0.02, 0.36 * lung + 0.02)
        ] = -850.0
    hu[_ellipse(grid, 0.25 * z - 0.05, 0.02, 0.22, 0.18 + 0.1 * z)] = 55.0 + 10 * z
    hu[_ellipse(grid, 0.1, 0.28, 0.055, 0.055)] = 180.0
    hu[_ellipse(grid, 0, 0.42, 0.085, 0.08)] = 650.0
    hu[_ellipse(grid, 0, 0.42, 0.03, 0.03)] = 20.0
    if z < 0.75:
        for angle in np.linspace(0, 2 * np.pi, 18, endpoint=False)[1:]:
            cx, cy = 0.70 * np.cos(angle), 0.05 + 0.49 * np.sin(angle)
            hu[_ellipse(grid, cx, cy, 0.035, 0.03)] = 700.0
    hu[(grid[1] > 0.74) & (grid[1] < 0.78) & (np.abs(x) < 0.92)] = 300.0
    body = hu > -950
    noise = rng.normal(0.0, 30.0, x.shape) * body + rng.normal(0.0, 4.0, x.shape)
    return hu + noise + 1024.0


def _mr(grid: Grid, z: float, rng: np.random.Generator) -> FloatImage:
    """Draw an axial T2-like head MR slice."""
    x, _ = grid
    size = 0.75 + 0.12 * np.sin(np.pi * z)
    img = np.zeros(x.shape)
    img[_ellipse(grid, 0, 0, size * 0.82, size)] = 900.0
    img[_ellipse(grid, 0, 0, size * 0.76, size * 0.93)] = 120.0
    img[_ellipse(grid, 0, 0, size * 0.72, size * 0.89)] = 620.0
    img[_ellipse(grid, 0, 0.02, size * 0.55, size * 0.72)] = 450.0
    for side in (-1.0, 1.0):
        img[_ellipse(grid, side * 0.1, -0.05, 0.06, 0.25 * (1 - abs(z - 0.5)))] = 1500.0
    img += rng.normal(0.0, 18.0, x.shape) * (img > 0)
    return np.abs(img + rng.normal(0.0, 6.0, x.shape))


def _soft(distance: FloatImage, edge: float) -> FloatImage:
    """Return 1 inside (distance < 1) fading smoothly to 0 outside."""
    inside: FloatImage = 1.0 / (1.0 + np.exp(np.clip((distance - 1) / edge, -50, 50)))
    return inside


def _radiograph(grid: Grid, z: float, rng: np.random.Generator) -> FloatImage:
    """Draw a PA chest radiograph: torso, dark lungs, heart, spine and ribs."""
    x, y = grid
    body = _soft(np.hypot(x / (0.86 + 0.04 * z), (y - 0.25) / 1.15), 0.03)
    img = 250.0 + 1700.0 * body
    lungs = np.zeros(x.shape)
    for side in (-1.0, 1.0):
        lungs += _soft(np.hypot((x - side * 0.37) / 0.27, (y + 0.02) / 0.58), 0.08)
    img -= 950.0 * lungs
    img += 600.0 * _soft(np.hypot((x - 0.1) / 0.3, (y - 0.3) / 0.28), 0.1)
    img += 750.0 * np.exp(-((x / 0.07) ** 2)) * body
    ribs = np.clip(np.cos(24.0 * (y + 0.45 * x**2)) * 3 - 2, 0, 1)
    img += 380.0 * lungs * ribs
    return img + rng.normal(0.0, 1.4, x.shape)


SPECS = {
    "CT": FrameSpec(512, 512, 12, 16, _ct),
    "MR": FrameSpec(256, 256, 12, 16, _mr),
    "CR": FrameSpec(1024, 1024, 12, 6, _radiograph),
    "DX": FrameSpec(1024, 832, 12, 6, _radiograph),
}


def frame_for_slice(modality: str, position: int, count: int) -> int:
    """Return the pool frame that stands in for slice ``position`` of ``count``."""
    pool = SPECS[modality].pool
    if count <= 1:
        return position % pool
    return round(position * (pool - 1) / (count - 1))


class FramePool:
    """Hands out encapsulated JPEG 2000 pixel data, encoding each frame only once.

    Parameters
    ----------
    seed : int
        Seeds the noise of every frame, so the same seed gives the same bytes.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._encoded: dict[tuple[str, int], bytes] = {}

    def pixel_data(self, modality: str, frame: int) -> bytes:
        """Return the encapsulated (7FE0,0010) Pixel Data value of one pool frame.

        Parameters
        ----------
        modality : str
            ``CT``, ``MR``, ``CR`` or ``DX``.
        frame : int
            Index into the modality's pool.

        Returns
        -------
        bytes
            A basic offset table item followed by one JPEG 2000 fragment.
        """
        key = (modality, frame)
        if key not in self._encoded:
            self._encoded[key] = self._encode(modality, frame)
        return self._encoded[key]

    def _encode(self, modality: str, frame: int) -> bytes:
        """Draw one frame and encode it as JPEG 2000 lossless."""
        spec = SPECS[modality]
        kind = list(SPECS).index(modality)
        rng = np.random.default_rng([self._seed, kind, frame])
        z = frame / max(1, spec.pool - 1)
        image = spec.draw(_grid(spec.rows, spec.columns), z, rng)
        top = (1 << spec.bits_stored) - 1
        pixels = np.clip(np.rint(image), 0, top).astype(np.uint16)

        carrier = Dataset()
        carrier.Rows, carrier.Columns = spec.rows, spec.columns
        carrier.SamplesPerPixel = 1
        carrier.PhotometricInterpretation = "MONOCHROME2"
        carrier.BitsAllocated = 16
        carrier.BitsStored = spec.bits_stored
        carrier.HighBit = spec.bits_stored - 1
        carrier.PixelRepresentation = 0
        carrier.compress(JPEG2000Lossless, pixels, encoding_plugin="pylibjpeg")
        encoded: bytes = carrier.PixelData
        return encoded
