"""Training on the published datasets with their ``weight`` column in effect (the optional
``train`` extra: ``pip install feedback-platform[train]``); see ``trl_weighted``."""
