from keyless.cli.main import run

run()
