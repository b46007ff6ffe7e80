"""The Okta org's half: the AWS app, groups and assignments as code (:mod:`.side`), and
people — deactivation, sessions, audit reads (:mod:`.people`)."""
