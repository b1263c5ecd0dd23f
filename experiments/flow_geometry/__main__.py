from experiments.flow_geometry import main

main()
