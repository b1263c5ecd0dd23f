from experiments.common.run import command

command("flow_geometry")
