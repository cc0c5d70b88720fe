from leantune.cli import main

main()
