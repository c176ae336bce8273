"""Reference implementations the tests compare the package with, all in this one package.

Each is written plainly from a spec, never from ``malpyeong_eval``'s code, and shares no code with
it: ``scoring`` (the split, Exact Match, counted items, the means, Descriptive Avg and Final of
malpyeong_eval/docs/scoring.md §2-§3), ``rouge`` (ROUGE-1, scoring.md §3), ``bleurt`` (a BLEURT
forward pass by hand over the raw weights, scoring.md §3) and ``provenance`` (the weights hash the
README's provenance section describes). A test of the package against one of them proves fidelity
to the spec; a test of the package against its own output proves only consistency.
"""
