"""ClickBus purchase data: schema, loading (local or s3://), validation, synthetic generation."""
