from experiments.eight_schools import main

main()
