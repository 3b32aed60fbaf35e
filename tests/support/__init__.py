"""Real parts over loopback for the test suite: an OpenID issuer, tokens, a clock."""
