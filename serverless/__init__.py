"""AWS Lambda entry points (the HTTP API and S3-event ingestion), their ASGI adapter and the /rag page."""
