"""What authors and reviewers run on top of the engine: explain, replay, eval, coverage, examples, rendering."""
