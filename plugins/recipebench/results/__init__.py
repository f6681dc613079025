"""The warehouse side: the tables (schema), rows built from parsed records, the DuckDB and BigQuery
warehouses behind one interface, and the regression decision. Depends on the catalog only."""
