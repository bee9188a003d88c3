"""Training code for bgpsentry's classifier.

The Go side (classifier/lgbm) reads what this package writes: a LightGBM
text model (model.txt) and its contract (model.json). parity.py writes the
fixtures that prove Go inference agrees with LightGBM's own.
"""
