from weightlens.cli import main

main()
