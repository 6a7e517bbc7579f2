"""The wheel carries the top-level assets/ folder, so a non-editable install serves the CSS."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from app import assets_dir

ROOT = Path(__file__).parent.parent


def test_wheel_contains_assets_and_entry_points(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("app", "assets"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("celery_scope-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(name).decode() for name in names
                            if name.endswith("entry_points.txt"))
    assert {"app/assets/style.css", "app/assets/dashAgGridComponentFunctions.js"} <= names
    assert "celery-scope = app.cli:main" in entry_points
    assert "scope = app.cli:scope" in entry_points  # `celery scope`


def test_checkout_serves_the_top_level_assets():
    assert (assets_dir() / "style.css").is_file()
