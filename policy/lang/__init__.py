"""The policy language: syntax tree, parser, checker, diagnostics, formatter, and reading the files."""
