"""Where frames come from: one Source per kind, each run in a thread of its own."""
