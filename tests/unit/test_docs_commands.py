"""Every command in README.md and docs/ still works: the docs cannot rot (issue 31).

The convention (docs/development.md, "The docs check"): every line of a fenced ```sh block is a
command, checked here by what it runs; ```text, ```json and ```console blocks are not. Inline code
spans that start with `make `, `readface `, `python -m ` or `.venv/bin/` are commands too. Nothing
is started that lasts: a target, sub-command, option, module, file, route or setting must exist,
and a setting's value must be accepted, so the whole check takes seconds.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\s*$")
_INLINE = re.compile(r"`((?:make|readface|python -m|\.venv/bin/)\s[^`]+)`")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_PLACEHOLDER_ID = "0" * 64
# Ordinary tools a command may pipe through: they only have to be installed.
_TOOLS = {"cut", "sha256sum", "openssl", "jq"}


def _commands() -> Iterator[tuple[str, str, bool]]:
    """(where, command, fenced) for every command in the docs."""
    for path in DOCS:
        fence: str | None = None
        pending = ""
        paragraph: list[str] = []  # prose lines: an inline command may wrap onto the next line
        for number, line in enumerate([*path.read_text().splitlines(), ""], 1):
            opened = _FENCE.match(line)
            if fence is None and (opened or not line.strip()):
                for span in _INLINE.findall(" ".join(paragraph)):
                    yield f"{path.name}:{number - len(paragraph)}", span, False
                paragraph = []
            if opened and fence is None:
                fence, start = opened.group(1), number
                continue
            if line.startswith("```") and fence is not None:
                fence = None
                continue
            if fence == "sh":
                pending += line[:-1] + " " if line.endswith("\\") else line
                if not line.endswith("\\"):
                    if pending.strip() and not pending.lstrip().startswith("#"):
                        yield f"{path.name}:{start}", pending.strip(), True
                    pending = ""
            elif fence is None and line.strip():
                paragraph.append(line.strip())


def _makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    targets = set()
    for match in re.finditer(r"^([A-Za-z0-9_.\- ]+):(?!=)", text, re.M):
        targets.update(match.group(1).split())
    return targets


def _known_settings() -> set[str]:
    """READFACE_* names the code reads (settings, entrypoints, compose)."""
    names: set[str] = set()
    names.update(re.findall(r'_env\("([A-Z_]+)"\)', (REPO / "shared/settings.py").read_text()))
    for path in [*REPO.glob("scripts/*.sh"), *REPO.glob("cli/*.py"), REPO / "docker-compose.yml"]:
        names.update(re.findall(r"READFACE_([A-Z_]+)", path.read_text()))
    return {f"READFACE_{name}" for name in names}


def _check_settings(assignments: dict[str, str]) -> None:
    from shared.settings import get_settings

    readface = {k: v for k, v in assignments.items() if k.startswith("READFACE_")}
    unknown = sorted(set(readface) - _known_settings())
    assert not unknown, f"settings no code reads: {unknown}"
    saved = {name: os.environ.get(name) for name in readface}
    os.environ.update(readface)
    try:
        get_settings()  # a value the service would refuse raises ValueError here
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_readface(args: list[str], fenced: bool) -> None:
    from cli import _parser

    parser = _parser()
    if fenced:
        parser.parse_args(args)  # SystemExit(2) names the wrong option or value
        return
    commands = next(a for a in parser._actions if a.dest == "command")
    sub = commands.choices[args[0]]  # type: ignore[index]
    options = {o for action in sub._actions for o in action.option_strings}
    for word in args[1:]:
        for option in word.split("/"):
            if option.startswith("--"):
                assert option.split("=")[0] in options, f"readface {args[0]} has no {option}"


def _check_module(args: list[str]) -> None:
    assert args[0] == "-m", f"python without -m: {args}"
    spec = importlib.util.find_spec(args[1])
    assert spec is not None and spec.origin, f"no module {args[1]}"
    source = Path(spec.origin).read_text()
    for word in args[2:]:
        if word.startswith("--"):
            assert f'"{word.split("=")[0]}"' in source, f"{args[1]} takes no {word}"


def _check_curl(args: list[str]) -> None:
    from werkzeug.exceptions import HTTPException

    from api import create_app
    from shared.settings import Settings

    method = "GET"
    url = next(a for a in args if a.startswith("http://"))
    for flag, value in pairwise(args):
        if flag == "-X":
            method = value
        elif flag in ("-F", "--data-binary") and method == "GET":
            method = "POST"
    path = re.sub(r"^http://[^/]+", "", url).split("?")[0].replace("$ID", _PLACEHOLDER_ID)
    adapter = create_app(Settings()).url_map.bind("127.0.0.1")
    try:
        adapter.match(path, method=method)
    except HTTPException as error:
        raise AssertionError(f"{method} {path}: {error}") from None


def _check_docker(args: list[str]) -> None:
    compose = args[0] == "compose"
    files = [args[i + 1] for i, a in enumerate(args) if a == "-f"]
    for name in files or (["docker-compose.yml"] if compose else []):
        assert (REPO / name).is_file(), f"no file {name}"
    if compose:
        text = "".join((REPO / name).read_text() for name in files or ["docker-compose.yml"])
        for flag, value in pairwise(args):
            if flag == "--profile":
                assert f'"{value}"' in text, f"no compose profile {value}"
            if flag == "--scale":
                assert f"\n  {value.split('=')[0]}:" in text, f"no compose service {value}"
        return
    dockerfile = (REPO / files[0]).read_text()
    for flag, value in pairwise(args):
        if flag == "--build-arg":
            assert f"ARG {value.split('=')[0]}" in dockerfile, f"{files[0]} takes no {value}"


def check(command: str, fenced: bool) -> None:
    """Raise AssertionError (or SystemExit from argparse) when the command no longer works."""
    words = shlex.split(command, comments=True)
    assignments = {}
    while words and (assigned := _ASSIGNMENT.match(words[0])):
        assignments[assigned.group(1)] = assigned.group(2)
        words.pop(0)
    _check_settings(assignments)
    if not words:
        return
    program, args = words[0], words[1:]
    if program == "make":
        missing = [a for a in args if not a.startswith("-") and a not in _makefile_targets()]
        assert not missing, f"no make target {missing}"
    elif program in ("readface", ".venv/bin/readface"):
        _check_readface(args, fenced)
    elif program in ("python", ".venv/bin/python"):
        _check_module(args)
    elif program == "curl":
        _check_curl(args)
    elif program == "docker":
        _check_docker(args)
    elif program == "kubectl":
        paths = [args[i + 1] for i, a in enumerate(args) if a == "-f"]
        assert paths and all((REPO / p).exists() for p in paths), f"missing {paths}"
    elif program == "cp":
        assert (REPO / args[0]).exists(), f"no file {args[0]}"
    else:
        assert program in _TOOLS and shutil.which(program), f"no check for {program}: use ```text"


_ALL = list(_commands())


@pytest.mark.parametrize(
    ("command", "fenced"), [(c, f) for _, c, f in _ALL], ids=[w for w, _, _ in _ALL]
)
def test_command_in_docs_still_works(command: str, fenced: bool) -> None:
    try:
        check(command, fenced)
    except SystemExit as error:
        raise AssertionError(f"argparse refused {command!r}") from error


def test_every_setting_in_the_table_is_read_by_the_code() -> None:
    table = (REPO / "docs/operating.md").read_text()
    documented = set(re.findall(r"^\| `(READFACE_[A-Z_]+)`", table, re.M))
    assert documented, "the settings table moved: update this test"
    assert not documented - _known_settings()


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_pages_lands_on_a_heading() -> None:
    broken = []
    for path in DOCS:
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?(?:#([\w-]+))?\)", path.read_text()):
            page = (path.parent / target) if target else path
            if not page.is_file():
                broken.append(f"{path.name}: {target}")
                continue
            headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
            if anchor and anchor not in {_anchor(h) for h in headings}:
                broken.append(f"{path.name}: {target}#{anchor}")
    assert not broken
