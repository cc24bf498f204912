"""The files that make up the camera application, as they are laid out on a drive."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app_files(root=ROOT, config=None):
    """[(host path, drive path)] for main.py, boot.py, config.json and every lib/ module
    (and the web page's files, lib/webd/index.html and its .gz)."""
    root = Path(root)
    files = [(root / "main.py", "main.py"), (root / "boot.py", "boot.py"),
             (Path(config) if config else root / "config.json", "config.json")]
    for p in sorted((root / "lib").rglob("*")):
        if "__pycache__" not in p.parts and p.name.endswith((".py", ".html", ".html.gz")):
            files.append((p, "lib/" + p.relative_to(root / "lib").as_posix()))
    return [(src, dst) for src, dst in files if src.exists()]
