# Shortcuts for the two commands of run.py that take the longest (see README).
.PHONY: bench bench-quick test

bench:  ## every benchmark under bench/ into one table, under 15 min (needs the local PostgreSQL and Redis)
	python3 run.py bench

bench-quick:  ## the same at small sizes (a few minutes on 2 cores)
	python3 run.py bench --quick

test:
	python3 run.py test
