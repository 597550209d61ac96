from vmtemp.cli import run

run()
