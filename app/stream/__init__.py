"""Per record and batch: routing, deciding, the partition state it writes (the engine calls these)."""
