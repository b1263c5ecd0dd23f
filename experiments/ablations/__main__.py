from experiments.ablations import main

main()
