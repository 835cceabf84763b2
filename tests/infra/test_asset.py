"""The Lambda asset as synthesized into cdk.out, the lock file it is built from, and the recipe's rules."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from infra import bundling
from tests.infra.conftest import ROOT, Assembly

pytestmark = pytest.mark.infra


def files(asset: Path) -> list[Path]:
    return [p for p in asset.rglob("*") if p.is_file()]


def cdk_style_zip(asset: Path) -> bytes:
    """The asset zipped as the CDK CLI does: deflate, every timestamp 1980-01-01."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files(asset)):
            info = zipfile.ZipInfo(str(path.relative_to(asset)), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lambda_python() -> str | None:
    return bundling.find_python(bundling.LAMBDA_PYTHON)


def test_bytecode_is_for_the_lambda_python_and_used_without_checking_sources(
        assembly: Assembly, lambda_python: str | None) -> None:
    asset = assembly.asset_dir()
    pycs = list(asset.rglob("*.pyc"))
    sources = list(asset.rglob("*.py"))
    if lambda_python is None:  # no CPython 3.13 on this machine: sources only, and the synth said so
        assert pycs == [] and "ships no bytecode" in assembly.output
        return
    assert {p.name.rsplit(".", 2)[-2] for p in pycs} == {"cpython-313"}  # no foreign bytecode
    assert all(p.parent.name == "__pycache__" for p in pycs)
    assert len(pycs) == len(sources)  # every module compiled
    magic = subprocess.run([lambda_python, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    for pyc in pycs[:: max(1, len(pycs) // 200)]:
        header = pyc.read_bytes()[:8]
        assert header[:4].hex() == magic
        # PEP 552 flags: hash-based (bit 0) without source checking (bit 1 clear): unchecked-hash.
        assert int.from_bytes(header[4:8], "little") == 0b01, pyc


def test_what_never_runs_is_left_out(assembly: Assembly) -> None:
    asset = assembly.asset_dir()
    names = {p.relative_to(asset).as_posix() for p in files(asset)}
    assert not [n for n in names if n.endswith(".po")]
    mo = [n for n in names if n.endswith(".mo")]
    assert mo and all(re.search(r"/locale/en(_[A-Z]+)?/LC_MESSAGES/", n) for n in mo)  # LANGUAGES = en
    assert any(n.startswith("django/conf/locale/de/formats.py") for n in names)  # formats stay
    assert not [n for n in names if re.search(r"(^|/)tests?/", n) and not n.startswith("django/test/")]
    assert not (asset / "bin").exists()
    for dist_info in asset.glob("*.dist-info"):
        assert {p.name for p in dist_info.iterdir()} <= {"METADATA", "entry_points.txt"}, dist_info
    for app in bundling.UNUSED_DJANGO_APPS:
        assert not (asset / app.replace(".", "/")).exists(), app
    assert (asset / "django/contrib/sites").is_dir()  # auth's forms import it
    assert not (asset / "django/contrib/admin/static").exists()
    assert not (asset / "aws_lambda_powertools/event_handler").exists()
    assert (asset / "aws_lambda_powertools/metrics").is_dir() and (asset / "aws_lambda_powertools/logging").is_dir()
    for provided in bundling.RUNTIME_PROVIDED_MODULES:
        assert not (asset / provided).exists(), provided
    for present in ("django", "apig_wsgi", "aiohttp", "django_aws_api_gateway_websockets", "app",
                    "lambda_handler.py"):
        assert (asset / present).exists(), present
    for absent in ("tests", "infra", "node_modules", ".venv", "db.sqlite3"):
        assert not (asset / absent).exists(), absent


def test_compiled_extensions_are_for_lambda(assembly: Assembly) -> None:
    compiled = [p.name for p in assembly.asset_dir().rglob("*.so")]
    assert compiled and all("aarch64" in name or "abi3" in name for name in compiled)
    assert any("cpython-313" in name for name in compiled)


def test_asset_size(assembly: Assembly) -> None:
    asset = assembly.asset_dir()
    everything = files(asset)
    unzipped = sum(p.stat().st_size for p in everything)
    zipped = len(cdk_style_zip(asset))
    print(f"\nLambda asset: {zipped / 1e6:.2f} MB zipped, {unzipped / 1e6:.1f} MB unzipped, {len(everything)} files")
    assert zipped <= 10_000_000


# The lock file ------------------------------------------------------------------------------------------
def lock_pins() -> dict[str, tuple[str, list[str]]]:
    text = bundling.LOCK_FILE.read_text()
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s\\]+)", block)
        if match:
            pins[match.group(1).lower()] = (match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def test_the_lock_pins_every_requirement_with_hashes_and_leaves_out_the_runtimes_packages() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {canonicalize_name(name): value for name, value in lock_pins().items()}
    assert "scripts/lock" in bundling.LOCK_FILE.read_text().splitlines()[1]
    provided = {canonicalize_name(name) for name in bundling.RUNTIME_PROVIDED}
    assert not provided & set(pins)
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in provided:
            continue
        assert name in pins, f"{name} is in requirements.txt but not locked: run scripts/lock"
        assert requirement.specifier.contains(pins[name][0]), f"{name}=={pins[name][0]} breaks {requirement}"
    for name, (_version, hashes) in pins.items():
        assert hashes, name


def copy_hashed_paths(project: Any, copy: Path) -> Path:
    """A copy of exactly the paths that feed a project's asset hash (`bundling.hashed_paths`), without bytecode."""
    for item in bundling.hashed_paths(project):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, copy / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (copy / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / item)
    return copy


def test_the_asset_hash_follows_the_lock_and_the_code_not_the_docs(tmp_path: Path) -> None:
    from aws_cdk import FileSystem

    def fingerprint(path: Path) -> str:
        return FileSystem.fingerprint(str(path), exclude=bundling.ASSET_EXCLUDE)

    copy = copy_hashed_paths(bundling.DEMO, tmp_path / "project")
    original = fingerprint(copy)
    assert original == fingerprint(ROOT)  # exactly these paths feed the hash
    (copy / "README.md").write_text("docs")
    (copy / "tests").mkdir()
    (copy / "tests" / "test_x.py").write_text("x = 1")
    assert fingerprint(copy) == original
    lock = copy / bundling.LOCK_FILE.name
    lock.write_text(re.sub(r"^django==\S+", "django==5.2.0", lock.read_text(), flags=re.MULTILINE))
    assert fingerprint(copy) != original


# The recipe's rules --------------------------------------------------------------------------------------
def test_pip_gets_several_manylinux_tags_for_the_lambda_platform(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    commands: list[list[str]] = []
    monkeypatch.setattr(bundling, "_run", lambda command, what: commands.append(command))
    bundling.install_dependencies(tmp_path, bundling.lambda_target())
    (command,) = commands
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == ["manylinux_2_34_aarch64", "manylinux_2_28_aarch64", "manylinux2014_aarch64"]
    for flag in ("--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile"):
        assert flag in command
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("-r") + 1] == str(bundling.LOCK_FILE)


def test_no_lambda_python_means_no_bytecode_and_a_warning(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text("x = 1\n")
    target = bundling.Target("3.13", bundling.platform_tags("aarch64"), None)
    with pytest.warns(RuntimeWarning, match="ships no bytecode"):
        assert bundling.compile_bytecode(tmp_path, target) is False
    assert not list(tmp_path.rglob("*.pyc"))


def test_the_exclude_list_refuses_apps_the_project_uses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="django.contrib.humanize"):
        bundling.check_unused_apps(["django.contrib.auth", "django.contrib.humanize"])
    bundling.check_unused_apps(["django.contrib.auth", "django.contrib.admin.apps.SimpleAdminConfig"])
    (tmp_path / "mine.py").write_text("from django.contrib.humanize.templatetags import humanize\n")
    with pytest.raises(ValueError, match="mine.py imports django.contrib.humanize"):
        bundling.check_no_imports_of_removed_apps(tmp_path)


def test_translations_kept_follow_the_settings(settings: Any) -> None:
    from django.conf import global_settings

    settings.USE_I18N, settings.LANGUAGE_CODE = True, "en-us"
    settings.LANGUAGES = [("en", "English"), ("pt-br", "Português")]
    assert bundling.translation_languages(settings) == {"en", "pt"}
    settings.LANGUAGES = global_settings.LANGUAGES
    assert bundling.translation_languages(settings) is None  # Django's default list: keep every language
    settings.USE_I18N = False
    assert bundling.translation_languages(settings) == set()
