import sys

from recipebench.cli import main

sys.exit(main())
