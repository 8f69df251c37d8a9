from sandbox.paystack.cli import main

raise SystemExit(main())
