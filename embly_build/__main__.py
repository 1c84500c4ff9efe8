from embly_build.cli.app import main

main()
