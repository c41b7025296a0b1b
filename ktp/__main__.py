from ktp.cli import main

raise SystemExit(main())
