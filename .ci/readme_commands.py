"""Print the README's ``bash`` blocks as one script, in order, to run as written.

The second block (the test command) is left out: .ci/run has just run it. Blocks
marked ``shell`` need the user's data, real models, a GPU or a server and are not run.
"""

import re
import sys
from pathlib import Path

blocks = re.findall(r"^```bash\n(.*?)^```", Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").read_text(encoding="utf-8"), re.S | re.M)
if len(blocks) < 2 or "malpyeong-eval demo" not in blocks[0] or "pytest" not in blocks[1]:
    sys.exit("README: the first bash block must install and run the demo, the second run the tests")
print("set -euo pipefail")
for number, block in enumerate(blocks, start=1):
    if number == 2:
        continue
    print(f"echo '--- README block {number}' >&2")
    print(block.rstrip())
