from ikou.cli import main

main()
