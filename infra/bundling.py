"""Building the Lambda asset locally, without Docker.

The recipe (:func:`build_bundle`), for a :class:`Target` (Python version, manylinux platform tags and an
interpreter of that version to compile bytecode with):

1. pip installs the project's locked dependency set (the demo's ``requirements-lambda.lock``: versions and
   hashes, generated from ``requirements.txt`` by ``scripts/lock``) as wheels for the target, ``--no-deps
   --require-hashes``, with no bytecode from the build machine's Python;
2. the project's code (:class:`infra.config.ProjectConfig`'s ``code``; the demo's: the app package, the Django
   project, ``lambda_handler.py``) is copied beside them, each path at the asset's root;
3. what never runs on Lambda is left out (:func:`strip`): gettext sources (``.po``; the compiled ``.mo``
   stay for every language the project serves: those of ``settings.LANGUAGES``, all of them while that is
   Django's default list), dist-info bulk (only ``METADATA`` and ``entry_points.txt`` stay, for ``importlib.metadata``), test
   suites, ``bin/`` scripts, Django's admin static files, the Django contrib apps in
   :data:`UNUSED_DJANGO_APPS` (an explicit list, checked against ``INSTALLED_APPS``) and the parts of
   Powertools that Logger and Metrics do not use (:data:`POWERTOOLS_KEEP`);
4. bytecode is compiled by the target's own CPython (3.13 for the Lambda runtime) in *unchecked-hash* mode,
   or not at all, with a warning, when no such interpreter is on the machine.

Why unchecked-hash: ``/var/task`` is read-only, so whatever bytecode the asset does not ship is compiled from
source on every cold start (SnapStart aside). The default, timestamp-based ``.pyc`` records each source's
mtime, and the CDK CLI zips assets with every timestamp set to 1980-01-01 (for reproducible zips), so after
Lambda unpacks the zip no timestamp ``.pyc`` would match its source and Python would ignore them all.
Unchecked-hash ``.pyc`` are used without looking at the source: right for code that never changes in place.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ROOT, ProjectConfig, cdk_json_context, selected_project

DEMO = ProjectConfig()
LOCK_FILE = ROOT / DEMO.lock
# What the demo's function runs: the app package, the Django project and the handler module.
PROJECT_CODE = DEMO.code
# Provided by the Lambda Python runtime (boto3 and what it depends on, the SnapStart hooks): never bundled.
# scripts/lock leaves them out of the lock file; the bundle is checked for them too.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six",
                    "snapshot-restore-py")
RUNTIME_PROVIDED_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six.py",
                            "snapshot_restore_py.py")
LAMBDA_PYTHON = "3.13"
LAMBDA_ARCHITECTURE = "aarch64"
# Lambda's python3.13 runtime is Amazon Linux 2023 (glibc 2.34). Several tags, newest first, so a dependency
# that only ships newer manylinux wheels still bundles; pip only widens manylinux2014 by itself.
MANYLINUX_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
# Django contrib apps the project does not install: left out of the asset. The bundling refuses to leave out
# an app that INSTALLED_APPS names (check_unused_apps) or that any module left in the asset imports
# (check_no_imports_of_removed_apps: django.contrib.sites stays, auth's forms import it).
UNUSED_DJANGO_APPS = (
    "django.contrib.admindocs", "django.contrib.flatpages", "django.contrib.gis", "django.contrib.humanize",
    "django.contrib.postgres", "django.contrib.redirects", "django.contrib.sitemaps", "django.contrib.syndication",
)
# Static files are served elsewhere (a CDN, S3); the function never serves the admin's JS and CSS.
UNUSED_DATA = ("django/contrib/admin/static",)
# Of Powertools, the function uses Logger and Metrics: these parts of the package are all they import. The
# rest (event handlers and their Swagger UI, parser, idempotency, batch, ...) is left out.
POWERTOOLS_KEEP = ("__init__.py", "package_logger.py", "py.typed", "exceptions", "logging", "metrics", "shared",
                   "tracing", "warnings", "utilities/__init__.py", "utilities/typing", "utilities/jmespath_utils")
_DIST_INFO_KEEP = {"METADATA", "entry_points.txt"}
_VERSION_RE = re.compile(r"^\d+\.\d+$")


@dataclass(frozen=True)
class Target:
    """What a bundle is built for."""

    python_version: str  # "3.13"
    platforms: tuple[str, ...]  # pip --platform tags
    interpreter: str | None  # a CPython of python_version, to compile bytecode; None: ship sources only

    @property
    def abi(self) -> str:
        return "cp" + self.python_version.replace(".", "")


def platform_tags(architecture: str) -> tuple[str, ...]:
    return tuple(f"{tag}_{architecture}" for tag in MANYLINUX_TAGS)


def find_python(version: str) -> str | None:
    """A CPython ``version`` interpreter on this machine (``$LAMBDA_BYTECODE_PYTHON``, ``pythonX.Y`` on PATH,
    or pyenv's), or None."""
    if not _VERSION_RE.match(version):
        raise ValueError(f"expected a version like '3.13', not {version!r}")
    candidates = [os.environ.get("LAMBDA_BYTECODE_PYTHON", ""), shutil.which(f"python{version}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted((pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"),
                                          reverse=True)]
    for candidate in filter(None, candidates):
        if interpreter_version(candidate) == version:
            return candidate
    return None


def interpreter_version(executable: str) -> str | None:
    try:
        result = subprocess.run([executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def lambda_target() -> Target:
    """The Lambda function's platform: CPython 3.13 on arm64 (Amazon Linux 2023)."""
    return Target(LAMBDA_PYTHON, platform_tags(LAMBDA_ARCHITECTURE), find_python(LAMBDA_PYTHON))


def host_target() -> Target:
    """The same recipe for this machine (to run the asset here): CPython 3.13 when present, else this Python."""
    interpreter = find_python(LAMBDA_PYTHON)
    if interpreter is None:
        interpreter, version = sys.executable, "%d.%d" % sys.version_info[:2]
    else:
        version = LAMBDA_PYTHON
    return Target(version, platform_tags(platform.machine()), interpreter)


def check_unused_apps(installed_apps: list[str] | tuple[str, ...]) -> None:
    """Refuse to leave out a contrib app that the project installs."""
    clash = sorted(set(UNUSED_DJANGO_APPS) & {app.split(".apps.")[0] for app in installed_apps})
    if clash:
        raise ValueError(f"UNUSED_DJANGO_APPS (infra/bundling.py) lists {clash}, which INSTALLED_APPS uses; "
                         "remove them from the list")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command[:4])} ...):\n{result.stdout[-4000:]}\n"
                           f"{result.stderr[-4000:]}")


def install_dependencies(out: Path, target: Target, lock: Path = LOCK_FILE) -> None:
    platforms = [arg for tag in target.platforms for arg in ("--platform", tag)]
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
          "--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile", *platforms,
          "--python-version", target.python_version, "--implementation", "cp", "--abi", target.abi,
          "--abi", "abi3", "--abi", "none", "--target", str(out), "-r", str(lock)], "Installing the locked dependencies")


def copy_project(out: Path, project: ProjectConfig = DEMO) -> None:
    """The project's code, each path at the asset's root under its own name."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3*", "templates_cache")
    for item in project.code:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, out / source.name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, out / source.name)


def strip(out: Path, languages: set[str] | None = None) -> None:
    """Leave out what never runs on Lambda (see the module's docstring). ``languages``: the language codes
    whose translations (``.mo``) stay; None keeps them all."""
    for name in RUNTIME_PROVIDED_MODULES:  # in case anything brought one in
        path = out / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    shutil.rmtree(out / "bin", ignore_errors=True)
    for app in UNUSED_DJANGO_APPS:
        shutil.rmtree(out / app.replace(".", "/"), ignore_errors=True)
    for data in UNUSED_DATA:
        shutil.rmtree(out / data, ignore_errors=True)
    _keep_only(out / "aws_lambda_powertools", POWERTOOLS_KEEP)
    for dist_info in out.glob("*.dist-info"):
        for item in dist_info.iterdir():
            if item.name not in _DIST_INFO_KEEP:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    for path in sorted(out.rglob("*"), reverse=True):  # deepest first
        if path.is_dir() and path.name in ("tests", "__pycache__"):
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".po", ".pyc"):
            path.unlink()
        elif languages is not None and path.is_dir() and path.parent.name == "locale" and \
                (path / "LC_MESSAGES").is_dir() and path.name.split("_")[0].lower() not in languages:
            shutil.rmtree(path / "LC_MESSAGES")  # the catalogs; formats.py (Django's own locales) stays
            if not any(path.iterdir()):
                path.rmdir()


def check_no_imports_of_removed_apps(out: Path) -> None:
    """Refuse an asset in which a module imports one of the left-out contrib apps."""
    names = "|".join(re.escape(app) for app in UNUSED_DJANGO_APPS)
    pattern = re.compile(rf"^\s*(?:from|import)\s+({names})\b", re.MULTILINE)
    offenders = []
    for path in out.rglob("*.py"):
        match = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            offenders.append(f"{path.relative_to(out)} imports {match.group(1)}")
    if offenders:
        raise ValueError("UNUSED_DJANGO_APPS (infra/bundling.py) leaves out apps the asset still imports: "
                         + "; ".join(sorted(offenders)[:10]))


def _keep_only(package: Path, keep: tuple[str, ...]) -> None:
    if not package.is_dir():
        return
    wanted = {package / item for item in keep}
    for path in sorted(package.rglob("*"), reverse=True):
        inside_kept = any(path == w or w in path.parents for w in wanted)
        leads_to_kept = any(path in w.parents for w in wanted)
        if not inside_kept and not leads_to_kept and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def translation_languages(settings: Any) -> set[str] | None:
    """The base languages whose translations the project can serve: those of ``LANGUAGES`` and
    ``LANGUAGE_CODE``; None (keep every language) when i18n is on and ``LANGUAGES`` is Django's default."""
    from django.conf import global_settings

    if not settings.USE_I18N:
        return set()
    if list(settings.LANGUAGES) == list(global_settings.LANGUAGES):
        return None
    codes = [code for code, _name in settings.LANGUAGES] + [settings.LANGUAGE_CODE]
    return {code.replace("_", "-").split("-")[0].lower() for code in codes}


def compile_bytecode(out: Path, target: Target) -> bool:
    """Compile every module with the target's CPython (unchecked-hash .pyc); False when there is none."""
    if target.interpreter is None:
        warnings.warn(f"No CPython {target.python_version} on this machine: the Lambda asset ships no bytecode, "
                      "so every cold start compiles Django from source. Install it (pyenv install "
                      f"{target.python_version}) or set LAMBDA_BYTECODE_PYTHON.", RuntimeWarning, stacklevel=2)
        return False
    _run([target.interpreter, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
          str(out)], f"Compiling the asset's bytecode with {target.interpreter}")
    return True


def build_bundle(out: Path, target: Target, *, lock: Path | None = None, bytecode: bool = True,
                 project: ProjectConfig = DEMO) -> bool:
    """Build ``project``'s function code into ``out`` (see the module's docstring) for its Django settings
    (``DJANGO_SETTINGS_MODULE``, configured); True when bytecode was shipped. ``lock``: the project's own."""
    from django.conf import settings

    check_unused_apps(settings.INSTALLED_APPS)
    out.mkdir(parents=True, exist_ok=True)
    install_dependencies(out, target, lock or ROOT / project.lock)
    copy_project(out, project)
    strip(out, translation_languages(settings))
    check_no_imports_of_removed_apps(out)
    return compile_bytecode(out, target) if bytecode else False


def local_bundling(project: ProjectConfig = DEMO) -> Any:
    """CDK's ILocalBundling of ``project`` for the Lambda target (built lazily: importing this module needs
    no jsii)."""
    import jsii
    from aws_cdk import ILocalBundling

    @jsii.implements(ILocalBundling)
    class LocalPythonBundling:
        def try_bundle(self, output_dir: str, *, image: Any, **options: Any) -> bool:
            build_bundle(Path(output_dir), lambda_target(), project=project)
            return True

    return LocalPythonBundling()


def hashed_paths(project: ProjectConfig = DEMO) -> tuple[str, ...]:
    """The paths (relative to cdk.json's directory) whose contents make the asset and its hash: the project's
    code, its lock file and this recipe."""
    return (*project.code, project.lock, "infra/bundling.py")


def asset_exclude(project: ProjectConfig = DEMO) -> list[str]:
    """The asset's exclude patterns (CDK globs, relative to cdk.json's directory). Only these paths feed the
    asset hash: the project's code, its lock file (so the hash changes when a resolved version does) and this
    recipe; not tests, docs, or dot-directories such as .venv and .git ("*" skips names that start with a dot).
    A path inside a folder re-includes each folder on its way (an excluded folder is never entered)."""
    included: list[str] = []
    for item in hashed_paths(project):
        parts = item.split("/")
        for depth in range(1, len(parts) + 1):
            pattern = "/".join(parts[:depth])
            if pattern not in included:
                included.append(pattern)
        if (ROOT / item).is_dir():
            included.append(f"{item}/**")
    return ["*", ".*", *[f"!{pattern}" for pattern in included], "**/__pycache__", "**/*.pyc", "**/db.sqlite3*"]


ASSET_EXCLUDE = asset_exclude(DEMO)


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.bundling OUT [--host] [--no-bytecode] [--project NAME]``: build the asset into OUT, for
    Lambda (the default) or for this machine (``--host``: to run it here), of a project of cdk.json (the demo
    by default) with its settings."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m infra.bundling", description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--host", action="store_true", help="build for this machine instead of Lambda")
    parser.add_argument("--no-bytecode", action="store_true", help="ship sources only")
    parser.add_argument("--project", help="one of cdk.json's projects (default: its 'project', else the demo)")
    args = parser.parse_args(argv)
    context = cdk_json_context()
    if args.project:
        context["project"] = args.project
    project = selected_project(context)
    project.activate()
    # Building needs the settings but no key (app.settings refuses to start without one, DEBUG off).
    os.environ.setdefault("DJANGO_SECRET_KEY", "bundling-reads-the-settings-only")
    import django

    django.setup()
    target = host_target() if args.host else lambda_target()
    compiled = build_bundle(args.out, target, bytecode=not args.no_bytecode, project=project)
    print(f"Built {args.out} for CPython {target.python_version} {target.platforms[0]}; bytecode: "
          f"{target.interpreter if compiled else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
