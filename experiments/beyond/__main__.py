from experiments.common.run import command

command("beyond")
