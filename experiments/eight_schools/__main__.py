from experiments.common.run import command

command("eight_schools")
