from experiments.common.run import command

command("mean_field")
