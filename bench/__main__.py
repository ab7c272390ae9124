"""`python -m bench` (`make bench`): every benchmark, one after the other."""

from bench import contacts_bulk, dispatch, email, policy

contacts_bulk.main()
dispatch.main()
email.main()
policy.main()
