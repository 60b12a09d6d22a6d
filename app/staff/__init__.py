"""Staff accounts: the User model, sign-in and sign-out, account rules, ``flask users``.

Below every package that names a staff member (tickets, SLA, routing, telephony); it imports
none of them: what other packages do when an account changes, they do on its signals.
"""
