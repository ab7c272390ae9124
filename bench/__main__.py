"""`python -m bench` (`make bench`): every benchmark, one after the other."""

from bench import contacts_bulk

contacts_bulk.main()
