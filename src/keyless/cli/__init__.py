"""The `keyless` command line: thin commands that parse options, call one service, render."""
