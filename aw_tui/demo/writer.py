"""``aw-tui demo``: write the demo project (configs, project.toml, synthetic images)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from importlib import resources

from aw_tui.demo.sky import make_sky

__all__ = ["DEMO_FILES", "write_demo"]

#: Files of the packaged demo project (copied as they are).
DEMO_FILES = ("project.toml", "save_output.py")


def demo_source() -> str:
    """The packaged demo folder (``aw_tui/demo/data/demo``)."""
    return str(resources.files("aw_tui.demo") / "data" / "demo")


def write_demo(
    folder: str,
    size: int = 2048,
    seed: int = 2064,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> str:
    """Write the demo project into ``folder``; return the project file's path.

    The images are generated once (deterministic from ``seed``); an existing demo folder is
    reused, its run directory kept (so `--resume` works on a second call).

    Parameters
    ----------
    folder : str
        Folder of the demo project (created if needed).
    size : int, optional
        Side of the synthetic images in pixels.
    seed : int, optional
        Random seed of the synthetic sky.
    force : bool, optional
        Write every file again, even if the folder already holds them.
    progress : callable, optional
        Called with one line of text before the images are made and as each is written
        (making three 2048-pixel exposures takes ~20 s).

    Returns
    -------
    str
        Path of the demo's ``project.toml``.
    """
    os.makedirs(folder, exist_ok=True)
    source = demo_source()
    for name in DEMO_FILES:
        target = os.path.join(folder, name)
        if force or not os.path.exists(target):
            shutil.copyfile(os.path.join(source, name), target)
    config = os.path.join(folder, "config")
    if force or not os.path.isdir(config):
        shutil.copytree(os.path.join(source, "config"), config, dirs_exist_ok=True)
    images = os.path.join(folder, "images")
    stamp = os.path.join(images, f".generated-{size}-{seed}")
    if force or not os.path.exists(stamp):
        if progress is not None:
            progress(f"making the synthetic sky in {images}: 3 exposures of {size} x {size} "
                     "pixels, with weight maps and masks...")
        make_sky(images, n_exposures=3, size=size, seed=seed, progress=progress)
        with open(stamp, "w", encoding="utf-8") as handle:
            handle.write("made by aw-tui demo\n")
    return os.path.join(folder, "project.toml")
