"""``python -m malpyeong_eval`` is the ``malpyeong-eval`` command."""

from .cli import main

main()
