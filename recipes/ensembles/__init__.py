"""Ensembles: bagging, boosting (AdaBoost SAMME) and stacking."""
