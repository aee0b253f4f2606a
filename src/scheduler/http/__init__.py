"""What only HTTP needs: problem documents, the OpenAPI document, request plumbing."""
