"""Print the manual's ``bash`` and ``python`` blocks as one bash script, in order, to run as written.

The manual is README.md, then the documentation site's pages in mkdocs.yml's nav order
(``tests/manual_support.py``), all run in one shell from the checkout's root, so the tour's state
carries over: the README's first block installs and runs the demo, every later block builds on it.
The README's second block (the test command) is left out: .ci/run has just run it. ``python``
blocks run with the ``python`` of the moment (the project's venv, which the first block
activates); the ``python`` blocks of a page with no ``bash`` block between them run in one process,
as a notebook's cells do, so a later block uses the names an earlier one made. Blocks marked ``shell`` (or ``py``, for Python) need the user's data, real models, a
GPU or a server and are not run.

One change: this CI machine cannot reach PyTorch's CPU wheel index, so the first block's
``pip install torch --index-url .../whl/cpu`` becomes the local index's CPU wheel (CPU_TORCH),
as in .ci/run; everything else runs as written. With ``--venv PATH`` the first block's venv and
installs are left out and PATH's venv is activated instead, to run the manual locally without
reinstalling (from a scratch copy of the checkout, with ``MALPYEONG_DB`` set):

    scratch=$(mktemp -d) && git ls-files -z | xargs -0 cp --parents -t "$scratch" && cd "$scratch" &&
      MALPYEONG_DB="sqlite:///$scratch/readme.db" bash <(python /path/to/checkout/.ci/readme_commands.py --venv /path/to/checkout/.venv)
"""

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.manual_support import blocks, manual_pages  # noqa: E402  (the checkout's own reader of the manual)

CPU_INDEX_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
CPU_TORCH = "pip install torch==2.13.0"  # the CPU build on this machine's package index
PYTHON_END = "MALPYEONG_MANUAL_PYTHON_BLOCK"
INSTALL_STEPS = ("python3 -m venv", ". .venv/bin/activate", "pip install")


def first_block(block: str, venv: str | None) -> str:
    """The README's first block for CI (the CPU wheel of the local index), or with ``venv`` activated
    in place of creating and installing one."""
    if CPU_INDEX_INSTALL not in block:
        sys.exit(f"README: the first bash block must install the CPU torch with {CPU_INDEX_INSTALL!r}")
    if venv is None:
        return block.replace(CPU_INDEX_INSTALL, CPU_TORCH)
    steps = [step.strip() for step in block.strip().split("&&")]
    kept = [step for step in steps if not step.startswith(INSTALL_STEPS)]
    return " && ".join([f". {shlex.quote(str(Path(venv) / 'bin' / 'activate'))}", *kept])


def _python_session(cells: list[tuple[str, str]]) -> str:
    """Consecutive ``python`` blocks of one page as one ``python`` process, as a notebook's cells share
    their names: each block's marker line on stderr, then its text. ``cells``: (marker, text)."""
    first, *rest = cells
    body = [first[1].rstrip()]
    for marker, text in rest:
        body += [f"__import__('sys').stderr.write({marker + chr(10)!r})", text.rstrip()]
    return f"echo {shlex.quote(first[0])} >&2\npython - <<'{PYTHON_END}'\n" + "\n".join(body) + f"\n{PYTHON_END}"


def script(venv: str | None) -> str:
    readme, *pages = manual_pages(ROOT)
    readme_blocks = blocks(readme, ("bash", "python"))
    if [kind for kind, _ in readme_blocks[:2]] != ["bash", "bash"] or "malpyeong-eval demo" not in readme_blocks[0][1] \
            or "pytest" not in readme_blocks[1][1]:
        sys.exit("README: the first bash block must install and run the demo, the second run the tests")
    lines = ["set -euo pipefail"]
    for page in [readme, *pages]:
        cells: list[tuple[str, str]] = []  # the python blocks since the last bash block: one session
        for number, (kind, text) in enumerate(blocks(page, ("bash", "python")), start=1):
            if page == readme and number <= 2:  # the install and demo, the tests (bash blocks 1 and 2, checked above)
                if number == 2:
                    continue
                text = first_block(text, venv)
            marker = f"--- {page.relative_to(ROOT)} block {number} ({kind})"
            if kind == "python":
                cells.append((marker, text))
                continue
            if cells:
                lines.append(_python_session(cells))
                cells = []
            lines += [f"echo {shlex.quote(marker)} >&2", text.rstrip()]
        if cells:
            lines.append(_python_session(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", help="activate this venv instead of the first block's venv and installs")
    print(script(parser.parse_args().venv))
