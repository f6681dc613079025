"""What can be run and what is measured: the recipe schema and its layers of defaults (accelerators,
frameworks), trigger params and the run config, names and labels, paths, the metric vocabulary.
Imports nothing from the rest of the package."""
