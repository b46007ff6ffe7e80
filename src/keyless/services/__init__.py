"""Services: the use cases the CLI calls (login, provision, audit, offboard, lab)."""
