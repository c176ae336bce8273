"""Print the README's ``bash`` blocks as one script, in order, to run as written.

The second block (the test command) is left out: .ci/run has just run it. Blocks
marked ``shell`` need the user's data, real models, a GPU or a server and are not run.
One change: this CI machine cannot reach PyTorch's CPU wheel index, so the first block's
``pip install torch --index-url .../whl/cpu`` becomes the local index's CPU wheel (CPU_TORCH),
as in .ci/run; everything else runs as written.
"""

import re
import sys
from pathlib import Path

blocks = re.findall(r"^```bash\n(.*?)^```", Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").read_text(encoding="utf-8"), re.S | re.M)
if len(blocks) < 2 or "malpyeong-eval demo" not in blocks[0] or "pytest" not in blocks[1]:
    sys.exit("README: the first bash block must install and run the demo, the second run the tests")
CPU_INDEX_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
CPU_TORCH = "pip install torch==2.13.0"  # the CPU build on this machine's package index
if CPU_INDEX_INSTALL not in blocks[0]:
    sys.exit(f"README: the first bash block must install the CPU torch with {CPU_INDEX_INSTALL!r}")
blocks[0] = blocks[0].replace(CPU_INDEX_INSTALL, CPU_TORCH)
print("set -euo pipefail")
for number, block in enumerate(blocks, start=1):
    if number == 2:
        continue
    print(f"echo '--- README block {number}' >&2")
    print(block.rstrip())
