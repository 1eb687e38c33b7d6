"""Credit score: an explainable 350–950 scorecard, its five dimensions and its uses.

A pure library (no database). Import its modules directly: training and evaluation load
pandas, scikit-learn and optbinning, scoring with a stored card does not. The core fills
``behaviour.BehaviourFeatures`` from the ledger, reads the active card from the registry
directory and stores each score with its version.
"""
