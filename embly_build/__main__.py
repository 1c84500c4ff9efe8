from embly_build.cli.entry import main

main()
