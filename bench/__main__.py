"""`python -m bench`: the whole benchmark, as `make bench` runs it."""

from bench.run import main

if __name__ == "__main__":
    main()
