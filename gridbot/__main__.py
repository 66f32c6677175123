import sys

from gridbot.cli import main

sys.exit(main())
