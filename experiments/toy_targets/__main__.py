from experiments.toy_targets import main

main()
