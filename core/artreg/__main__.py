from artreg.cli import main

main()
