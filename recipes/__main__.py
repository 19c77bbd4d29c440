"""``python -m recipes``: list the installed commands (``recipes.commands.COMMANDS``)."""
import sys

from recipes.commands import describe


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in ("-h", "--help"):
        print(f"usage: python -m recipes\n\n{describe()}", file=sys.stderr)
        return 2
    print(describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
