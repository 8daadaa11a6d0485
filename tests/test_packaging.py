"""The wheel that ``pip install .`` builds (as docker/Dockerfile does) holds the whole
application: every module, Lua script, product file and dashboard page, and nothing else.

An editable install (scripts/run, scripts/test) reads files from the checkout, so a
file missing from the package data would only show up in the image, at run time.
"""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tracker", "tasks", "api")


def tracked_files() -> set[str]:
    listed = subprocess.run(["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    return {name for name in listed if (ROOT / name).exists()}  # deleted but not committed


@pytest.mark.timeout(300)
def test_the_wheel_holds_every_file_of_the_three_packages(tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    # setuptools warns about a directory of data it would leave out of the packages
    assert "would be ignored" not in build.stderr, build.stderr
    (wheel,) = tmp_path.glob("stats_tracker-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if ".dist-info/" not in name}

    assert shipped == tracked_files()
