"""``jupyter raydata …`` commands (the ``jupyter-raydata`` console script).

``jupyter raydata demo-catalog --runs N --dir DIR`` builds the demo catalog and prints the
configuration that serves it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .demo import ensure_demo_catalog


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``jupyter raydata``."""
    parser = argparse.ArgumentParser(prog="jupyter raydata", description="Raydata command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo-catalog", help="Build a demo catalog of CHX-like runs (tiled SQLite, synthetic XPCS frames)."
    )
    demo.add_argument("--runs", type=int, default=30, help="How many runs (default 30).")
    demo.add_argument("--dir", type=Path, required=True, help="Folder to build it in (created).")
    args = parser.parse_args(argv)

    if args.runs < 1:
        parser.error("--runs must be at least 1")
    path, _ = ensure_demo_catalog(args.dir.resolve(), args.runs)
    spec = {"demo": {"kind": "sqlite", "path": str(path)}}
    print(f"Demo catalog ready: {path}")
    print("Serve it with, in jupyter_server_config.py:")
    print(f"    c.Raydata.catalogs = {json.dumps(spec)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
