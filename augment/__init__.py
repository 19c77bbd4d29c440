"""augment package."""
