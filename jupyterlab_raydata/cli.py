"""``jupyter raydata …``: the command line (the ``jupyter-raydata`` console script).

* ``jupyter raydata demo-catalog --runs N --dir DIR`` builds a demo catalog and prints the configuration
  that serves it.
* ``jupyter raydata templates`` lists the analysis templates (broken ones with their error).
* ``jupyter raydata run TEMPLATE --catalog C --uid U [--param k=v …] [--mask NAME] [--out DIR]`` runs one
  job through the job runner with a progress bar and exits non-zero with the failure summary.

They read the same configuration files as the Jupyter server (``c.Raydata.…``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import RaydataError

#: How often ``run`` redraws its progress bar.
REFRESH_S = 0.25


def parse_param(text: str) -> tuple[str, Any]:
    """``name=value`` with the value read as JSON when it is JSON (numbers, true, lists), else text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"'{text}' is not name=value")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return name.strip(), value


def _demo_catalog(args) -> int:
    from .catalog.demo import ensure_demo_catalog

    if args.runs < 1:
        raise SystemExit("--runs must be at least 1")
    path, _ = ensure_demo_catalog(args.dir.resolve(), args.runs)
    spec = {"demo": {"kind": "sqlite", "path": str(path)}}
    print(f"Demo catalog ready: {path}")
    print("Serve it with, in jupyter_server_config.py:")
    print(f"    c.Raydata.catalogs = {json.dumps(spec)}")
    return 0


def _templates(args) -> int:
    from .app import from_config_files
    from .jobs.templates import TemplateRegistry

    raydata, _ = from_config_files()
    broken = 0
    for info in TemplateRegistry([Path(p) for p in raydata.template_paths]).list():
        if info.error:
            broken += 1
            print(f"{info.name:<16} BROKEN: {info.error}  ({info.path})")
        else:
            print(f"{info.name:<16} {info.title}  ({info.path})")
    return 1 if broken and args.strict else 0


def _prepare(args):
    from .app import from_config_files
    from .catalog.registry import CatalogRegistry
    from .jobs.folder import JobFolder
    from .jobs.submission import check_submission, job_spec
    from .jobs.templates import TemplateRegistry

    raydata, root_dir = from_config_files()
    settings = raydata.kernel_settings(root_dir)
    catalogs = CatalogRegistry(settings.catalogs, settings.data_dir)
    submission = check_submission(
        TemplateRegistry([Path(p) for p in raydata.template_paths]),
        catalogs,
        settings,
        template=args.template,
        catalog=args.catalog,
        uids=[args.uid],
        parameters=dict(args.param),
        mask=args.mask,
    )
    out = (args.out or Path(root_dir) / raydata.results_dir).expanduser().resolve()
    job_id = "cli-" + datetime.now().strftime("%Y%m%d-%H%M%S")
    run = submission.runs[0]
    record = catalogs.get(args.catalog).record(run.uid)
    spec = job_spec(submission, run, job_id=job_id, settings=settings, results_dir=out, record=record)
    folder = JobFolder(spec.folder)
    folder.create(spec)
    return folder


def _run(args) -> int:
    from tqdm import tqdm

    from .jobs.runner import run_job

    folder = _prepare(args)
    print(f"Job folder: {folder.path}", file=sys.stderr)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(run_job(folder.path)), daemon=True)
    worker.start()
    bar = tqdm(total=0, unit="cell", file=sys.stderr, disable=args.quiet)
    try:
        while worker.is_alive():
            worker.join(REFRESH_S)
            status = folder.status()
            if status is not None and status.cells_total:
                bar.total = status.cells_total
                bar.n = status.cells_done
                bar.set_description(status.heading or args.template, refresh=False)
                bar.refresh()
    except KeyboardInterrupt:
        print("\nCancelling…", file=sys.stderr)
        folder.request_cancel()
        worker.join()
    bar.close()
    state, failure = result.get("state"), result.get("failure")
    if state == "completed":
        print(f"Completed: {folder.notebook}")
        return 0
    print(
        f"{state.capitalize() if state else 'Failed'}: {failure or 'see ' + str(folder.log)}", file=sys.stderr
    )
    print(f"Partial notebook: {folder.notebook}", file=sys.stderr)
    return 130 if state == "cancelled" else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter raydata", description="Raydata command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo-catalog", help="Build a demo catalog of CHX-like runs (tiled SQLite, synthetic XPCS frames)."
    )
    demo.add_argument("--runs", type=int, default=30, help="How many runs (default 30).")
    demo.add_argument("--dir", type=Path, required=True, help="Folder to build it in (created).")
    demo.set_defaults(func=_demo_catalog)

    templates = commands.add_parser("templates", help="List the analysis templates.")
    templates.add_argument("--strict", action="store_true", help="Exit 1 if any template is broken.")
    templates.set_defaults(func=_templates)

    run = commands.add_parser("run", help="Run one analysis template on one run, here and now.")
    run.add_argument("template", help="Template name (see 'jupyter raydata templates').")
    run.add_argument("--catalog", required=True, help="Catalog name (as configured; 'demo' by default).")
    run.add_argument("--uid", required=True, help="The run's uid (or a unique prefix).")
    run.add_argument(
        "--param",
        action="append",
        type=parse_param,
        default=[],
        metavar="NAME=VALUE",
        help="A template parameter; repeat for several. Values are JSON where they can be (8, 0.5, true).",
    )
    run.add_argument("--mask", default=None, help="A saved mask's name.")
    run.add_argument("--out", type=Path, default=None, help="Results folder (default: the configured one).")
    run.add_argument("--quiet", action="store_true", help="No progress bar.")
    run.set_defaults(func=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``jupyter raydata``."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RaydataError as exc:
        print(f"{exc.error}: {exc.detail}" if exc.detail else exc.error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
