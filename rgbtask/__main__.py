import sys

from rgbtask.cli import main

sys.exit(main())
