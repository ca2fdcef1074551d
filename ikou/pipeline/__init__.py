"""A migration run as named phases (check → extract → resolve → assemble → reconcile → land), one
module each, sharing ``state``; ``run.migrate`` strings them together. The row stages, the
findings, the value accounting and the landing protocol are the modules the phases use."""
