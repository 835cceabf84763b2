"""Runs Lambda events through a built asset the way the Lambda Python runtime does, with nothing else around.

``python -I -S -B infra/asset_runner.py BUNDLE RUNTIME_DIR EVENTS_JSON RESULT_JSON``: isolated mode (no
PYTHON* variables, no script directory, no user site) and no site-packages, so ``sys.path`` is the
interpreter's standard library plus exactly the asset (``BUNDLE``) and a stand-in for what the runtime
provides (``RUNTIME_DIR``, see :func:`runtime_stand_in`: boto3 and its dependencies, snapshot_restore_py).
``-B``: like Lambda's read-only ``/var/task``, nothing compiled is written back.

It imports ``lambda_handler`` (timed), runs each event of ``EVENTS_JSON`` through ``lambda_handler.handler``
(the first one timed) and writes the responses, the timings and every module of the asset that had to be
compiled from source to ``RESULT_JSON``. Standard library only (the tests and the benchmarks use it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def runtime_stand_in(dest: Path, site_packages: Path, names: tuple[str, ...], interpreter: str | None = None) -> Path:
    """A directory standing in for the packages the Lambda runtime provides: ``names`` from ``site_packages``
    (pure Python), files linked, bytecode compiled by ``interpreter`` as the runtime ships it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        source = site_packages / name
        if source.is_dir():
            shutil.copytree(source, dest / name, copy_function=os.symlink,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).symlink_to(source)
    if interpreter:
        subprocess.run([interpreter, "-I", "-m", "compileall", "-q", "-j", "0", str(dest)], check=True,
                       capture_output=True)
    return dest


class _Context:
    """The attributes of the Lambda runtime's context object that code reads."""

    function_name = "standalone"
    function_version = "1"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:standalone:live"

    def __init__(self, number: int) -> None:
        self.aws_request_id = f"00000000-0000-0000-0000-{number:012d}"

    def get_remaining_time_in_millis(self) -> int:
        return 29000


def main(argv: list[str]) -> None:
    import importlib._bootstrap_external as bootstrap_external

    bundle, runtime_dir, events_file, result_file = argv[:4]
    sys.path[:0] = [bundle, runtime_dir]
    compiled: list[str] = []
    source_to_code = bootstrap_external.SourceLoader.source_to_code

    def counting_source_to_code(self: Any, data: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).startswith(bundle):
            compiled.append(str(path)[len(bundle):].lstrip("/"))
        return source_to_code(self, data, path, *args, **kwargs)

    bootstrap_external.SourceLoader.source_to_code = counting_source_to_code  # type: ignore[method-assign]

    events = json.loads(Path(events_file).read_text())
    before_import = time.perf_counter()
    import lambda_handler

    imported = time.perf_counter()
    responses = []
    first_event_ms = 0.0
    for number, event in enumerate(events):
        event_started = time.perf_counter()
        responses.append(lambda_handler.handler(event, _Context(number)))
        if number == 0:
            first_event_ms = (time.perf_counter() - event_started) * 1000
    import_ms = (imported - before_import) * 1000
    outside = sorted({m.__name__.split(".")[0] for m in list(sys.modules.values())
                      if getattr(m, "__file__", None) and "site-packages" in m.__file__
                      and not m.__file__.startswith((bundle, runtime_dir))})
    Path(result_file).write_text(json.dumps({
        "python": "%d.%d.%d" % sys.version_info[:3], "import_ms": import_ms, "first_event_ms": first_event_ms,
        "cold_start_ms": import_ms + first_event_ms, "responses": responses, "compiled": compiled,
        "site_packages": [p for p in sys.path if "site-packages" in p], "modules_outside": outside,
    }))


if __name__ == "__main__":
    main(sys.argv[1:])
