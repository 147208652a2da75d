"""The shared kernel: no single-domain rules live here (DESIGN.md, layout)."""
