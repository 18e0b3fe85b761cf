from smartlic.cli import main

main()
