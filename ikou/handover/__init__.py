"""The hand-over (投入データ): the standard-layout files the receiving system loads, their
manifest, and the check of a received folder against it (docs/handover.md)."""
