"""The shapes the phases hand each other and the engine hands out: posts, hits, verdicts, sanctions."""
