from experiments.common.run import command

command("toy_targets")
