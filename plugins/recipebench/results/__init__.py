"""The results: one schema, parsed records, warehouses, regression checks."""
