"""The per-post path: scan a post with the automata and test the compiled conditions against it."""
