from experiments.common.run import command

command("ablations")
