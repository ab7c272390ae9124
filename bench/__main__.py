"""`python -m bench` (`make bench`): every benchmark, one after the other."""

from bench import clicks, contacts_bulk, dispatch, email, forecast, latency, policy, webhooks

contacts_bulk.main()
dispatch.main()
email.main()
webhooks.main()
clicks.main()
latency.main()
policy.main()
forecast.main()
