from vmtemp.cli import main

raise SystemExit(main())
