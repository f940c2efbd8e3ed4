"""Privacy requests (erasure, training consent): their drops, ledger and what was done."""
