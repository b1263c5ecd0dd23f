from experiments.beyond import main

main()
