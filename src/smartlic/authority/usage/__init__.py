"""Usage ingestion (RUM reports → signed ACKs), usage files and compliance."""
