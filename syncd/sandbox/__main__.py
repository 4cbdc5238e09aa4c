from syncd.sandbox.server import main

raise SystemExit(main())
