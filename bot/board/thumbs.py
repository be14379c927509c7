"""Thumbnails of evidence photos for the board: at most `SIZE` pixels a side, JPEG, made once per attachment and
kept under the data directory. Pillow comes with matplotlib. A picture Pillow cannot read is served as it is."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = 360


def thumbnail(source: Path, directory: Path, attachment_id: int) -> Path:
    """The thumbnail of `source` (made now if missing); `source` itself when it is not a readable picture."""
    target = directory / f"{attachment_id}.jpg"
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    try:
        with Image.open(source) as opened:
            im: Image.Image = ImageOps.exif_transpose(opened) or opened
            im.thumbnail((SIZE, SIZE))
            directory.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            im.convert("RGB").save(partial, "JPEG", quality=80)
            partial.replace(target)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return source
    return target
