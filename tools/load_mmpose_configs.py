"""Loads every codec configuration of an MMPose checkout's config files.

Runs :func:`jaxcodecs.from_mmpose_config` on every ``.py`` file under the
checkout's ``configs/`` and ``projects/`` and reports, as a table and a JSON
file: the files scanned, those that load, those with codecs, the codec
configurations found per type (every key path, and each distinct
configuration once), and every failure with its reason. Files that name a
codec type in their text but yield no codec are listed as missed; files that
cannot be read at all are split by whether their text names a codec type.

Not part of the test suite (it needs an MMPose checkout)::

    python tools/load_mmpose_configs.py /path/to/mmpose --out results.json
    python tools/load_mmpose_configs.py --git-dir /path/to/mmpose/.git --rev v1.3.2

With ``--git-dir``, ``git archive`` extracts the revision to a temporary
directory first.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import jaxcodecs

_CODEC_SLOT = re.compile(r"(?:\bcodec\w*\s*=|\b\w*coder\s*=)\s*dict\(\s*type\s*=\s*['\"]?([\w.]+)")


def _extract(git_dir: str, rev: str, into: Path, dirs: list[str]) -> None:
    """``dirs`` of ``rev`` into ``into``, with the package's own configs
    (``mmpose/configs``, which ``read_base()`` imports name) where it has them."""
    command = ["git", "-C", git_dir, "archive", "--format=tar", rev]
    done = subprocess.run(command + dirs + ["mmpose/configs"], capture_output=True)
    if done.returncode != 0:
        done = subprocess.run(command + dirs, check=True, capture_output=True)
    archive = done.stdout
    archive_path = into / "checkout.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(into, filter="data")


def _names_a_codec(text: str, codec_names: tuple[str, ...]) -> bool:
    pattern = r"type\s*=\s*['\"]?(?:mmpose\.)?(?:codecs\.)?(" + "|".join(codec_names) + r")\b"
    return re.search(pattern, text) is not None


def scan(checkout: Path, dirs: list[str]) -> dict:
    """Loads every ``.py`` under ``checkout/<dir>`` for ``dirs``; returns the report.

    Args:
      checkout: the root of an MMPose source tree (``mmpose::`` bases and
        ``mmpose.configs`` imports resolve inside it).
      dirs: the folders under ``checkout`` to scan.
    """
    codec_names = jaxcodecs.list_codecs()
    started = time.perf_counter()
    files = sorted(p for d in dirs for p in (checkout / d).rglob("*.py"))
    per_type_paths: collections.Counter = collections.Counter()
    per_type_distinct: collections.Counter = collections.Counter()
    codec_failures, missed, unreadable_codec, unreadable_other = [], [], [], []
    other_types: collections.Counter = collections.Counter()
    loaded = with_codecs = 0
    per_file: dict[str, list[str]] = {}
    for path in files:
        rel = str(path.relative_to(checkout))
        text = path.read_text(encoding="utf-8", errors="replace")
        names_codec = _names_a_codec(text, codec_names)
        for kind in _CODEC_SLOT.findall(text):
            if kind.rpartition(".")[2] not in codec_names:
                other_types[kind] += 1
        try:
            result = jaxcodecs.from_mmpose_config(path, packages={"mmpose": checkout}, strict=False)
        except jaxcodecs.MMPoseConfigError as error:
            reason = str(error).replace(f"{checkout}/", "")
            (unreadable_codec if names_codec else unreadable_other).append({"file": rel, "reason": reason})
            continue
        loaded += 1
        if result.codecs or result.errors:
            with_codecs += 1
        elif names_codec:
            missed.append(rel)
        for key, reason in result.errors.items():
            codec_failures.append({"file": rel, "key": key, "reason": reason.replace(f"{checkout}/", "")})
        for key, config in result.configs.items():
            if key in result.codecs:
                per_type_paths[config["type"]] += 1
        for _, codec in result.distinct():
            per_type_distinct[type(codec).__name__] += 1
        if result.codecs:
            per_file[rel] = [f"{type(codec).__name__} at {', '.join(keys)}" for keys, codec in result.distinct()]
    return {
        "checkout": str(checkout),
        "dirs": dirs,
        "jaxcodecs": jaxcodecs.__version__,
        "files_scanned": len(files),
        "files_loaded": loaded,
        "files_with_codecs": with_codecs,
        "codec_configs_loaded": sum(per_type_paths.values()),
        "codec_configs_loaded_per_type": dict(sorted(per_type_paths.items())),
        "distinct_codec_configs_per_file_total": sum(per_type_distinct.values()),
        "distinct_codec_configs_per_type": dict(sorted(per_type_distinct.items())),
        "codec_config_failures": codec_failures,
        "files_naming_a_codec_without_codecs": missed,
        "unreadable_files_naming_a_codec": unreadable_codec,
        "unreadable_files_without_codecs": unreadable_other,
        "unregistered_types_in_codec_slots": dict(other_types.most_common()),
        "seconds": round(time.perf_counter() - started, 1),
        "distinct_codec_configs_per_file": per_file,
    }


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv``, scans, prints the summary, writes the JSON; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", nargs="?", help="root of an MMPose source tree")
    parser.add_argument("--git-dir", help="an MMPose git directory to extract --rev from instead")
    parser.add_argument("--rev", default="v1.3.2", help="revision to extract with --git-dir (default v1.3.2)")
    parser.add_argument("--dirs", nargs="+", default=["configs", "projects"],
                        help="folders of the checkout to scan (default: configs projects)")
    parser.add_argument("--out", help="write the report as JSON here")
    args = parser.parse_args(argv)
    if (args.checkout is None) == (args.git_dir is None):
        parser.error("give a checkout or --git-dir")
    with tempfile.TemporaryDirectory() as tmp:
        if args.git_dir:
            _extract(args.git_dir, args.rev, Path(tmp), args.dirs)
            checkout = Path(tmp)
        else:
            checkout = Path(args.checkout).resolve()
        report = scan(checkout, args.dirs)
    if args.git_dir:
        report["checkout"] = f"git archive {args.rev}"
    for key in ("files_scanned", "files_loaded", "files_with_codecs", "codec_configs_loaded",
                "distinct_codec_configs_per_file_total"):
        print(f"{key:40s} {report[key]}")
    for kind, count in report["codec_configs_loaded_per_type"].items():
        print(f"  {kind:38s} {count:5d} paths, {report['distinct_codec_configs_per_type'].get(kind, 0):4d} distinct")
    for key in ("codec_config_failures", "files_naming_a_codec_without_codecs",
                "unreadable_files_naming_a_codec", "unreadable_files_without_codecs"):
        print(f"{key:40s} {len(report[key])}")
        for item in report[key]:
            print(f"    {item}")
    print(f"unregistered types in codec slots: {report['unregistered_types_in_codec_slots']}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.out}")
    failed = report["codec_config_failures"] or report["unreadable_files_naming_a_codec"] \
        or report["files_naming_a_codec_without_codecs"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
