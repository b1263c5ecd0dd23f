from experiments.mean_field import main

main()
