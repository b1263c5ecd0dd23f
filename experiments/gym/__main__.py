from experiments.gym import main

main()
