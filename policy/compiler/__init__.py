"""From a checked policy to its compiled form: conditions, term tables, prefilter, triggers, automata."""
