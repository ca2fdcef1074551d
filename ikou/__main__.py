from ikou.launch import main

main()
