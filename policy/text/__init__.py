"""Text folding, below everything: normalization profiles, contacts, term variants, the word dictionary.

Pure functions of a string; no knowledge of policies."""
