"""Packaging: the wheel installs `celery_scope` (never a top-level `app`, which would shadow
the user's own Celery module of that name) and carries the top-level assets/ folder."""
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from celery_scope import assets_dir

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
    assert {"celery_scope/assets/style.css",
            "celery_scope/assets/dashAgGridComponentFunctions.js"} <= names
    modules = {f"celery_scope/{path.relative_to(ROOT / 'app').as_posix()}"
               for path in (ROOT / "app").rglob("*.py") if "__pycache__" not in path.parts}
    assert modules <= names, sorted(modules - names)  # every module of app/, subpackages too
    assert not [name for name in names if name.startswith("app/")]  # never shadows a user's app
    assert "celery-scope = celery_scope.cli:main" in entry_points
    assert "scope = celery_scope.cli:scope" in entry_points  # `celery scope`


def test_checkout_serves_the_top_level_assets():
    assert (assets_dir() / "style.css").is_file()


USER_PROJECTS = {
    "module": {"app.py": "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n"},
    "package": {"app/__init__.py": "from .celery import app\n",
                "app/celery.py": "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n"},
}


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """A fresh virtualenv with the built wheel installed (its dependencies from this
    interpreter's site-packages, so nothing is downloaded)."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(base / "dist"), str(ROOT)], check=True, capture_output=True)
    (wheel,) = (base / "dist").glob("celery_scope-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    return venv


@pytest.mark.parametrize("layout", sorted(USER_PROJECTS))
def test_a_user_project_named_app_keeps_working_beside_celery_scope(wheel_venv, tmp_path,
                                                                    layout):
    for name, text in USER_PROJECTS[layout].items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["PATH"] = f"{wheel_venv / 'bin'}{os.pathsep}{environment['PATH']}"
    for command in (["inspect", "ping", "--help"], ["worker", "--help"], ["scope", "--help"]):
        result = subprocess.run([str(wheel_venv / "bin" / "python"), "-m", "celery", "-A", "app",
                                 *command],
                                cwd=tmp_path, env=environment, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"celery -A app {' '.join(command)}: {result.stderr}"
    shown = subprocess.run([str(wheel_venv / "bin" / "pip"), "show", "-f", "celery-scope"],
                           env=environment, capture_output=True, text=True, check=True).stdout
    files = [line.strip() for line in shown.splitlines() if line.startswith("  ")]
    assert files and not [name for name in files if name.startswith("app/")]
