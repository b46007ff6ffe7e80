"""Adapters at the edges: the Okta client, AWS (boto3), credential files, keyring, locks."""
