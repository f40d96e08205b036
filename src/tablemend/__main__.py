from tablemend.cli import main

main()
